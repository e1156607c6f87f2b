"""Issue 30 item 4: Ctrl-C or SIGTERM anywhere in an epoch's commit leaves the run's
files agreeing: ``data.yaml``, ``checkpoints/state.json``, ``stats/history.csv``,
the best checkpoint, ``top.weights.h5`` and ``model.keras`` all describe the same
committed epoch.

Phase 1 runs in this process on small learnable features (no backbone, so each
run takes a second or two). A first run traces every fault point
(:mod:`vergeml.faults`); then, for each point of epoch 2's commit, a fresh run gets
a real SIGINT there (``VERGEML_FAULT_ACTION=sigint``) and is cancelled as
``ml train`` cancels it. Before the fix ``cancel()`` wrote the state held in
memory, which an epoch advances before its files are written.
"""
import csv
import json
import signal

import numpy as np
import pytest
import yaml

from tests.integration.phase1_helpers import CLASSES, DIM, train
from vergeml import faults


@pytest.fixture(scope="module")
def commit_points(tmp_path_factory):
    """``(point, hit)`` of every fault point from the start of epoch 2's commit to epoch 3's start."""
    folder = tmp_path_factory.mktemp("trace")
    trace = folder / "trace"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VERGEML_FAULT_TRACE", str(trace))
        patch.delenv("VERGEML_FAULT_POINT", raising=False)
        assert train(folder / "trainings", "traced").metadata["status"] == "finished"
    reached = trace.read_text().split()
    starts = [i for i, p in enumerate(reached) if p == "top.epoch"]
    last_batch = max(i for i in range(starts[1], starts[2]) if reached[i] == "top.batch")
    window = range(last_batch + 1, starts[2] + 1)
    return [(reached[i], reached[:i + 1].count(reached[i])) for i in window]


def test_the_commit_has_the_points_the_issue_names(commit_points):
    names = [p for p, _ in commit_points]
    for expected in ("file.replace:last-2.weights.h5", "file.replace:best-2.weights.h5",
                     "file.replace:state.json", "file.replace:top.weights.h5",
                     "file.replace:data.yaml", "file.replace:history.csv", "top.epoch"):
        assert expected in names, names


@pytest.fixture
def interruptible():
    """SIGINT raises KeyboardInterrupt here, as in a terminal, even when the suite was
    started from a shell that ignores it (``nohup make test &``, CI): Python then keeps
    SIGINT ignored and the run would never see the signal the fault point sends."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_an_interrupt_anywhere_in_a_commit_leaves_the_files_agreeing(commit_points, tmp_path,
                                                                      monkeypatch, interruptible):
    monkeypatch.delenv("VERGEML_FAULT_TRACE", raising=False)
    monkeypatch.setenv("VERGEML_FAULT_ACTION", "sigint")
    disagreements = {}
    for number, (point, hit) in enumerate(commit_points):
        monkeypatch.setenv("VERGEML_FAULT_POINT", point)
        monkeypatch.setenv("VERGEML_FAULT_HIT", str(hit))
        monkeypatch.setattr(faults, "_counts", {})
        instance = train(tmp_path / "trainings", f"stop-{number}")
        problems = check_agreement(instance.path)
        if problems:
            disagreements[f"{point} (hit {hit})"] = problems
    assert disagreements == {}


def check_agreement(folder):
    """What disagrees between a cancelled run's files (empty when nothing does)."""
    meta = yaml.safe_load((folder / "data.yaml").read_text())
    state = json.loads((folder / "checkpoints" / "state.json").read_text())
    with open(folder / "stats" / "history.csv", newline="") as handle:
        csv_epochs = [int(row["epoch"]) for row in csv.DictReader(handle)]
    results, done = meta["results"], state["epochs_done"]
    problems = []
    if meta["status"] != "cancelled":
        problems.append(f"status {meta['status']}")
    if results.get("epochs_done") != done:
        problems.append(f"data.yaml epochs_done {results.get('epochs_done')}, state.json {done}")
    if [row["epoch"] for row in meta["history"]] != list(range(1, done + 1)):
        problems.append(f"data.yaml history {len(meta['history'])} rows, state.json {done}")
    if csv_epochs != list(range(1, done + 1)):
        problems.append(f"history.csv epochs {csv_epochs}, state.json {done}")
    if results.get("best_epoch") != state["best_epoch"]:
        problems.append(f"data.yaml best_epoch {results.get('best_epoch')}, "
                        f"state.json {state['best_epoch']}")
    best_row = next(r for r in state["history"] if r["epoch"] == state["best_epoch"])
    if results.get("val_loss") != pytest.approx(best_row["val_loss"]):
        problems.append(f"data.yaml val_loss {results.get('val_loss')}, best row {best_row}")
    problems += _weights_problems(folder, state)
    return problems


def _weights_problems(folder, state):
    """model.keras and top.weights.h5 hold the top of the best checkpoint state.json names."""
    import keras
    from vergeml.models.imagenet.training.head import build_top
    checkpoints = folder / "checkpoints"
    best = build_top(DIM, CLASSES, 1, 0.0, 1)
    best.load_weights(checkpoints / state["best_file"])
    top = build_top(DIM, CLASSES, 1, 0.0, 1)
    top.load_weights(checkpoints / "top.weights.h5")
    saved = keras.saving.load_model(checkpoints / "model.keras").get_layer("top")
    problems = []
    for label, model in (("top.weights.h5", top), ("model.keras", saved)):
        if not all(np.array_equal(a, b) for a, b in zip(model.get_weights(), best.get_weights())):
            problems.append(f"{label} is not {state['best_file']} (epoch {state['best_epoch']})")
    return problems
