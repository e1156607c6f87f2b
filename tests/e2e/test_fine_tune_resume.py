"""End-to-end: two-phase training (``--fine-tune-epochs``) and resuming stopped runs.

The real ``ml`` in a subprocess on a small real project (200 scikit-learn
digits, 20 per class, as PNG files) with MobileNet alpha 0.25 and its real
ImageNet weights at 32 px. All runs share the project, so the features are
extracted once. A run is stopped at an exact epoch through a fault point
(:mod:`vergeml.faults`, action ``pause``): ``<phase>.epoch`` is reached when
an epoch begins, after the one before it is committed; the run creates a flag
file there and holds until the test signals it. So the test never races the
training: however fast or loaded the machine, the run is signalled with
exactly the wanted epochs committed, in the wanted phase.
"""
import csv
import json
import signal
import subprocess
import time
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from tests.conftest import default_signals, ml_command, run_ml_process, subprocess_env
from tests.e2e.conftest import digits_subset, read_metadata

pytestmark = pytest.mark.e2e

PER_CLASS = 20
ARGS = ("--architecture=mobilenet", "--alpha=0.25", "--size=32", "--optimizer=adam",
        "--learning-rate=0.002", "--batch-size=16")


# -- the project and helpers -------------------------------------------------------

@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """200 real digits; tests add instances (each with its own --name)."""
    return digits_subset(tmp_path_factory.mktemp("fine_tune") / "digits", PER_CLASS)


def ml(project, ml_env, *args, timeout=300):
    return run_ml_process(*args, cwd=project, env=ml_env, timeout=timeout)


def folder_of(project, name):
    return project / "trainings" / name


def read_state(project, name):
    """``checkpoints/state.json`` of a run, or None before its first epoch."""
    path = folder_of(project, name) / "checkpoints" / "state.json"
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return json.loads(text)  # replaced atomically: every read must parse


def read_history(project, name):
    with open(folder_of(project, name) / "stats" / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def list_rows(project, ml_env, *columns):
    result = ml(project, ml_env, "list", "--output=json", "-c", ",".join(("instance",) + columns))
    assert result.returncode == 0 and "Traceback" not in result.output, result.output
    return {row["instance"]: row for row in json.loads(result.stdout)}


def assert_usage_error(result, *expected):
    """Exit 2, one ``Error:`` line naming everything expected, no traceback, no training."""
    assert result.returncode == 2, result.output[-3000:]
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    for text in expected:
        assert text in errors[0], (text, errors[0])
    assert "Epoch " not in result.output and "Resuming" not in result.output


def assert_loadable_model(project, name):
    """model.keras loads without custom objects and gives class probabilities.

    Returns the warnings the load gave.
    """
    import keras
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.saving.load_model(folder_of(project, name) / "checkpoints" / "model.keras")
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (3, 32, 32, 3)).astype("float32")
    probabilities = model.predict(x, verbose=0)
    assert np.all(probabilities >= 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # It is the best epoch's model: loading the best checkpoint into it changes nothing.
    state = read_state(project, name)
    best = folder_of(project, name) / "checkpoints" / state["best_file"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the checkpoint holds an optimizer the model lacks
        if state["best_phase"] == "fine-tune":
            model.load_weights(best)
        else:
            model.get_layer("top").load_weights(best)
    raw = model.predict(x, verbose=0)
    # A calibrated run saves its softmax with the logits divided by the temperature.
    temperature = read_metadata(project, name)["results"].get("temperature") or 1.0
    logits = np.log(np.maximum(raw, 1e-30)) / temperature
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    # 1e-4: float32 logs of the probabilities, divided by the temperature (a run differed
    # by 1.5e-5); another epoch's weights differ by far more.
    np.testing.assert_allclose(expected, probabilities, atol=1e-4, rtol=0)
    return caught


def temp_files(project, name):
    return {p.relative_to(folder_of(project, name)).as_posix()
            for p in folder_of(project, name).rglob("*.tmp*")}


def assert_complete(project, name, top_epochs, fine_tune_epochs, leftover=()):
    """A finished run: every planned epoch exactly once, both phases in order, clean files.

    ``leftover``: temporary files a kill -9 left (the resumed run makes no new ones).
    """
    total = top_epochs + fine_tune_epochs
    history = read_history(project, name)
    assert [int(row["epoch"]) for row in history] == list(range(1, total + 1)), history
    assert [row["phase"] for row in history] == \
        ["top"] * top_epochs + ["fine-tune"] * fine_tune_epochs
    assert all(row["val_acc"] != "" and row["val_loss"] != "" for row in history)
    meta = read_metadata(project, name)
    assert meta["status"] == "finished" and meta["error"] is None
    assert meta["results"]["epochs_done"] == total
    assert [row["epoch"] for row in meta["history"]] == list(range(1, total + 1))
    state = read_state(project, name)
    assert state["epochs_done"] == total
    checkpoints = folder_of(project, name) / "checkpoints"
    kept = {p.name for p in checkpoints.glob("*.weights.h5") if p.name.startswith(("last-", "best-"))}
    assert kept == {state["last_file"], state["best_file"]}
    assert meta["results"]["best_epoch"] == state["best_epoch"]
    assert meta["results"]["val_acc"] == pytest.approx(state["best"][0])
    assert temp_files(project, name) <= set(leftover)
    return meta, state


class Background:
    """``ml train`` as a child the test signals; output goes to files (no pipe to fill).

    ``pause_at``: ``(point, hit)``: the run holds at the ``hit``-th time it reaches
    the fault point (``top.epoch``, ``fine-tune.epoch``) until it is signalled.
    """

    def __init__(self, project, ml_env, tmp_path, name, *args, pause_at):
        self.project, self.name = project, name
        self.out, self.err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
        self.flag = tmp_path / f"{name}.paused"
        point, hit = pause_at
        env = {**ml_env, "VERGEML_FAULT_POINT": point, "VERGEML_FAULT_HIT": hit,
               "VERGEML_FAULT_ACTION": "pause", "VERGEML_FAULT_FILE": self.flag}
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen(ml_command() + ["train", f"--name={name}", *args],
                                         cwd=project, env=subprocess_env(env), stdout=out,
                                         stderr=err, preexec_fn=default_signals)

    def output(self):
        return self.out.read_text() + self.err.read_text()

    def wait_paused(self, timeout=240):
        """Wait until the run holds at its point; its ``state.json`` then.

        The run stays there until signalled, so how often this looks does not
        matter: it cannot miss the moment.
        """
        deadline = time.monotonic() + timeout
        while not self.flag.exists():
            if self.proc.poll() is not None:
                raise AssertionError(f"ml train ended before its pause point "
                                     f"({self.proc.returncode}):\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no pause in {timeout}s:\n{self.output()[-3000:]}")
            time.sleep(0.1)
        return read_state(self.project, self.name)

    def signal(self, signum, timeout=120):
        self.proc.send_signal(signum)
        return self.proc.wait(timeout=timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def background(project, ml_env, tmp_path):
    runs = []

    def start(name, *args, pause_at):
        run = Background(project, ml_env, tmp_path, name, *args, pause_at=pause_at)
        runs.append(run)
        return run
    yield start
    for run in runs:
        run.kill()


# -- a finished two-phase run ------------------------------------------------------------

@pytest.fixture(scope="module")
def finished(project, ml_env):
    """One finished run of 2 + 2 epochs, and one frozen run of 2 epochs: the project."""
    result = ml(project, ml_env, "train", *ARGS, "--epochs=2", "--fine-tune-epochs=2",
                "--name=tuned")
    assert result.returncode == 0, result.output[-3000:]
    # fine-tune-layers auto with 16 training images a class: the later 7 of MobileNet's
    # 14 blocks, two layers each (the recipe, vergeml/models/imagenet/training/recipe.py).
    assert "Phase 2/2" in result.stdout and "Fine-tuning 14 layers" in result.stdout
    result = ml(project, ml_env, "train", *ARGS, "--epochs=2", "--name=plain")
    assert result.returncode == 0, result.output[-3000:]
    assert "Phase" not in result.stdout
    return project


def test_a_fine_tune_run_trains_both_phases_and_saves_a_loadable_model(finished):
    meta, state = assert_complete(finished, "tuned", 2, 2)
    assert meta["results"]["tuned"] == "fine-tuned"
    assert meta["hyperparameters"]["fine_tune_epochs"] == 2
    assert meta["fine_tune_recipe"]["epochs"] == 2 and meta["fine_tune_recipe"]["blocks"] == 0.5
    assert "test_acc" in meta["results"]
    assert state["phase"] == "fine-tune" and state["best_phase"] in ("top", "fine-tune")
    assert_loadable_model(finished, "tuned")
    assert (folder_of(finished, "tuned") / "checkpoints" / "top.weights.h5").is_file()


@pytest.mark.slow
def test_a_second_fine_tune_run_decodes_no_image(finished, ml_env):
    """Phase 2's images come from the cache: decoded once, by the first run."""
    result = ml(finished, ml_env, "train", *ARGS, "--epochs=1", "--fine-tune-epochs=1",
                "--name=tuned-again")
    assert result.returncode == 0, result.output[-3000:]
    hits = [line for line in result.stdout.splitlines() if line.startswith("train images cache:")]
    # Phase 2 reads them, and so does the unknown score's fit when a phase-2 epoch is kept
    # (its features come from the tuned backbone): every read a hit.
    num_train = read_metadata(finished, "tuned-again")["data"]["num_train"]
    assert hits and set(hits) == {f"train images cache: {num_train} hit, 0 new"}, result.stdout
    assert "Decoding images" not in result.stderr


def test_list_tells_frozen_from_fine_tuned_runs(finished, ml_env):
    rows = list_rows(finished, ml_env, "tuned")
    assert rows["tuned"]["tuned"] == "fine-tuned"
    assert rows["plain"]["tuned"] == "frozen"
    result = ml(finished, ml_env, "list")               # the default table shows it too
    assert result.returncode == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert "tuned" in header, result.stdout
    cells = {row[header.index("instance")]: row[header.index("tuned")]
             for row in ([c.strip() for c in line.strip("|").split("|")] for line in lines[2:])}
    assert cells["tuned"] == "fine-tuned" and cells["plain"] == "frozen"


def test_a_finished_run_has_nothing_to_resume(finished, ml_env):
    before = (folder_of(finished, "tuned") / "data.yaml").read_bytes()
    assert_usage_error(ml(finished, ml_env, "@tuned", "resume"), "nothing to resume", "@tuned")
    assert_usage_error(ml(finished, ml_env, "train", "--resume=@tuned"), "nothing to resume")
    assert (folder_of(finished, "tuned") / "data.yaml").read_bytes() == before


# -- kill -9 and resume ---------------------------------------------------------------

def test_kill_in_phase_1_then_resume_completes_the_run(project, ml_env, background):
    epochs, fine_tune = 30, 2
    # Held as epoch 4 begins: epochs 1-3 are committed.
    run = background("kill-top", *ARGS, f"--epochs={epochs}", f"--fine-tune-epochs={fine_tune}",
                     pause_at=("top.epoch", 4))
    paused = run.wait_paused()
    assert run.signal(signal.SIGKILL) == -signal.SIGKILL
    killed = read_state(project, "kill-top")            # the state the dead run left
    assert killed == paused
    assert killed["phase"] == "top" and killed["epochs_done"] == 3, killed
    leftover = temp_files(project, "kill-top")          # a kill -9 may leave one
    assert len(leftover) <= 1, leftover
    assert list_rows(project, ml_env, "status")["kill-top"]["status"] == "crashed"

    # Hyperparameters cannot change on resume: one line, nothing touched.
    before = (folder_of(project, "kill-top") / "data.yaml").read_bytes()
    result = ml(project, ml_env, "train", "--resume=@kill-top", "--learning-rate=0.01")
    assert_usage_error(result, "learning-rate 0.01", "0.002")
    assert (folder_of(project, "kill-top") / "data.yaml").read_bytes() == before
    assert read_state(project, "kill-top") == killed

    result = ml(project, ml_env, "@kill-top", "resume")
    assert result.returncode == 0, result.output[-3000:]
    assert f"Resuming @kill-top after epoch {killed['epochs_done']} (phase 1)" in result.stdout
    assert f"Epoch {killed['epochs_done'] + 1}/{epochs}" in result.stdout
    assert f"Epoch {killed['epochs_done']}/{epochs}" not in result.stdout   # nothing redone
    meta, state = assert_complete(project, "kill-top", epochs, fine_tune, leftover)
    assert meta["results"]["val_acc"] >= killed["best"][0]
    assert tuple(state["best"]) >= tuple(killed["best"])
    # The epochs before the kill are kept as they were, not retrained.
    assert meta["history"][:killed["epochs_done"]] == killed["history"]
    assert_loadable_model(project, "kill-top")


@pytest.fixture(scope="module")
def resumed_in_phase_2(project, ml_env, tmp_path_factory):
    """A 2 + 3 epoch run killed after its first fine-tune epoch, then resumed."""
    epochs, fine_tune = 2, 3
    # Held as phase 2's second epoch begins: its first is committed.
    run = Background(project, ml_env, tmp_path_factory.mktemp("kill-tune"), "kill-tune", *ARGS,
                     f"--epochs={epochs}", f"--fine-tune-epochs={fine_tune}",
                     pause_at=("fine-tune.epoch", 2))
    try:
        run.wait_paused()
        code = run.signal(signal.SIGKILL)
    finally:
        run.kill()
    killed = read_state(project, "kill-tune")
    had_model = (folder_of(project, "kill-tune") / "checkpoints" / "model.keras").exists()
    leftover = temp_files(project, "kill-tune")
    result = ml(project, ml_env, "@kill-tune", "resume")
    return SimpleNamespace(epochs=epochs, fine_tune=fine_tune, code=code, killed=killed,
                           had_model=had_model, leftover=leftover, result=result)


@pytest.mark.slow
def test_kill_in_phase_2_then_resume_completes_the_run(project, resumed_in_phase_2):
    run = resumed_in_phase_2
    killed, epochs, fine_tune = run.killed, run.epochs, run.fine_tune
    assert run.code == -signal.SIGKILL
    assert killed["phase"] == "fine-tune"
    assert killed["epochs_done"] == epochs + 1, killed
    assert not run.had_model and len(run.leftover) <= 1, run.leftover

    result = run.result
    assert result.returncode == 0, result.output[-3000:]
    assert f"Resuming @kill-tune after epoch {killed['epochs_done']} (phase 2)" in result.stdout
    assert "Phase 1/2" not in result.stdout                # phase 1 is not run again
    assert f"Epoch {killed['epochs_done'] + 1}/{epochs + fine_tune}" in result.stdout
    assert f"Epoch {killed['epochs_done']}/{epochs + fine_tune}" not in result.stdout
    meta, state = assert_complete(project, "kill-tune", epochs, fine_tune, run.leftover)
    assert meta["results"]["val_acc"] >= killed["best"][0]
    assert tuple(state["best"]) >= tuple(killed["best"])
    assert meta["history"][:killed["epochs_done"]] == killed["history"]
    assert_loadable_model(project, "kill-tune")


@pytest.mark.slow
def test_a_model_resumed_in_phase_2_loads_without_warnings(project, resumed_in_phase_2):
    # A resumed phase 2 skips phase 1: a top compiled but never trained would carry an
    # unbuilt optimizer into model.keras, and every load (ml predict) would warn
    # "Skipping variable loading for optimizer 'adam'".
    assert resumed_in_phase_2.result.returncode == 0
    caught = assert_loadable_model(project, "kill-tune")
    assert not [str(w.message) for w in caught if "Skipping variable loading" in str(w.message)]


# -- Ctrl-C in phase 2 ----------------------------------------------------------------

@pytest.mark.slow
def test_ctrl_c_in_phase_2_cancels_with_a_loadable_model(project, ml_env, background):
    # Ctrl-C as phase 2's second epoch begins: epoch 3 (its first) is committed.
    run = background("interrupted", *ARGS, "--epochs=2", "--fine-tune-epochs=3",
                     pause_at=("fine-tune.epoch", 2))
    paused = run.wait_paused()
    assert paused["phase"] == "fine-tune" and paused["epochs_done"] == 3, paused
    code = run.signal(signal.SIGINT)
    output = run.output()
    assert code == 130, (code, output[-3000:])
    assert "Traceback" not in output and "Cancelled" in output, output[-3000:]
    meta = read_metadata(project, "interrupted")
    assert meta["status"] == "cancelled" and meta["error"] is None and "pid" not in meta
    state = read_state(project, "interrupted")
    assert state == paused                     # nothing trained after the signal
    # The signal came between epochs: data.yaml has every committed epoch (it follows state.json).
    assert meta["history"] == state["history"] and len(meta["history"]) == 3, output[-3000:]
    assert meta["results"]["best_epoch"] == state["best_epoch"]
    assert_loadable_model(project, "interrupted")
    assert list_rows(project, ml_env, "status")["interrupted"]["status"] == "cancelled"
