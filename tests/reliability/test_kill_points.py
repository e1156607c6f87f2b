"""kill -9 of ``ml`` at 20 named points (:mod:`vergeml.faults`).

The points span fingerprinting, the split, feature extraction, creating the
run, phase 1's epochs and checkpoint commits, phase 2 (fine-tuning: decoding
images, its epochs and checkpoints), the final save, ``ml @name export`` and
a grid. After every kill: ``ml list`` shows the run ``crashed`` (or no run),
the cache is valid (every entry readable, every feature vector the one an
uninterrupted run computed), no file under a final name is half-written, the
next ``ml train`` succeeds on the same split, and a run that had committed an
epoch resumes to the end with the uninterrupted run's history.
"""
import json
import shutil
import signal
from dataclasses import dataclass

import pytest

from tests.e2e.conftest import instance_names, read_metadata
from tests.reliability.fault_helpers import (
    ARGS, EPOCHS, FINE_TUNE, FINE_TUNE_EPOCHS, SPLITS_FILE, TOTAL, Paused, assert_after_kill,
    assert_cache_valid, assert_files_whole, assert_next_train, assert_resumes, copy_project,
    reference, run_ml, split_test_files, statuses, temp_files, trace_of)

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Kill:
    """One kill point of ``ml train``.

    Attributes:
        point: ``VERGEML_FAULT_POINT``.
        hit: act on the n-th time it is reached.
        cached: start from the reference's cache and split (else extract afresh).
        fine_tune: train phase 2 too.
        instance: a run folder exists when killed.
        resumable: an epoch was committed, so ``ml @name resume`` finishes the run.
    """

    point: str
    hit: int = 1
    cached: bool = True
    fine_tune: bool = False
    instance: bool = True
    resumable: bool = True


BEFORE_RUN = dict(cached=False, instance=False, resumable=False)
TRAIN_KILLS = {
    "fingerprint-chunk": Kill("fingerprint.chunk", 2, **BEFORE_RUN),
    "split-memory": Kill("file.replace:vergeml.splits.json", **BEFORE_RUN),
    "extraction-batch": Kill("extraction.batch", 2, **BEFORE_RUN),
    # Commit 1 stores the file digests; commit 2 is the first 256 feature vectors.
    "extraction-commit": Kill("cache.commit", 2, **BEFORE_RUN),
    "extraction-done": Kill("extraction.done", **BEFORE_RUN),
    # A kill between reserving the run's folder and writing its first data.yaml leaves the
    # folder with only the reservation (.reserved.json: pid, host): `ml list` shows it
    # "crashed" (vergeml/instances/metadata.py, read_instance); an empty folder made by
    # hand is "broken", as docs/list.md says.
    "run-reserved": Kill("instance.reserved", resumable=False),
    "top-epoch": Kill("top.epoch", 2),
    "top-batch": Kill("top.batch", 12),  # in the middle of epoch 2 (8 batches an epoch)
    "last-checkpoint": Kill("file.replace:last-*.weights.h5", 2),
    "best-checkpoint": Kill("file.replace:best-*.weights.h5", 2),
    "state-commit": Kill("file.replace:state.json", 2),
    "fine-tune-decode": Kill("fine-tune.decode", 100, fine_tune=True),
    "fine-tune-epoch": Kill("fine-tune.epoch", 2, fine_tune=True),
    "fine-tune-checkpoint": Kill("file.replace:last-*.weights.h5", EPOCHS + 1, fine_tune=True),
    "final-save": Kill("file.replace:model.keras"),
    "finished-status": Kill("instance.status:finished"),
}
GRID = ("--learning-rate=0.002,0.004",)


@pytest.fixture(scope="module")
def ref(tmp_path_factory, ml_env):
    return reference(tmp_path_factory, ml_env)


def kill_params():
    return [pytest.param(key, id=key, marks=pytest.mark.slow) for key in TRAIN_KILLS]


@pytest.mark.parametrize("key", kill_params())
def test_kill_during_train(ref, ml_env, tmp_path, key):
    kill = TRAIN_KILLS[key]
    project = copy_project(ref, tmp_path / "project", cache=kill.cached)
    args = ARGS + (FINE_TUNE if kill.fine_tune else ())
    trace = tmp_path / "trace"
    result = run_ml(project, ml_env, "train", *args, point=kill.point, hit=kill.hit,
                    VERGEML_FAULT_TRACE=trace)
    reached = trace_of(trace)
    assert reached and _selects(kill.point, reached[-1]), reached[-5:]  # killed right there
    names = instance_names(project)
    name = assert_after_kill(project, ml_env, ref, result, names[0] if kill.instance else None)
    kept = assert_cache_valid(project, ref)
    if not kill.cached:
        assert (kept == TOTAL) == (key == "extraction-done"), kept
    if name and kill.resumable:
        meta = assert_resumes(project, ml_env, name, EPOCHS + (FINE_TUNE_EPOCHS if kill.fine_tune else 0))
        _same_phase_one(meta["history"], read_metadata(ref.project, ref.name)["history"])
    elif name:
        result = run_ml(project, ml_env, f"@{name}", "resume")
        assert result.returncode == 1 and "nothing to resume" in result.stderr, result.output[-2000:]
        assert "Traceback" not in result.output
    assert_next_train(project, ml_env, ref)


def test_kills_and_signals_in_a_row(ref, ml_env, tmp_path):
    """The fast subset: one project, each ``ml train`` stopped a step further on.

    kill -9 while fingerprinting and before the split is stored; SIGTERM while
    extracting; kill -9 inside the commit of the rest of the vectors; SIGINT as phase 1's
    second epoch begins. Each stop is checked as in the slow tests, each next
    run gets further, and the last one resumes to the uninterrupted result.
    """
    project = copy_project(ref, tmp_path / "project", cache=False)
    for point, hit in (("fingerprint.chunk", 2), ("file.replace:vergeml.splits.json", 1)):
        result = run_ml(project, ml_env, "train", *ARGS, point=point, hit=hit)
        assert_after_kill(project, ml_env, ref, result, None)
    assert not (project / SPLITS_FILE).exists()

    run = Paused(project, ml_env, ("train", *ARGS), "extraction.batch", 2).wait()
    run.proc.send_signal(signal.SIGTERM)
    assert run.finish(timeout=120) == 143 and "Terminated." in run.output(), run.output()[-3000:]
    assert instance_names(project) == []
    assert json.loads((project / SPLITS_FILE).read_text()) == ref.splits
    kept = assert_cache_valid(project, ref)
    assert 0 < kept < TOTAL  # the batches done were committed on the way out

    trace = tmp_path / "trace"
    result = run_ml(project, ml_env, "train", *ARGS, point="cache.commit", VERGEML_FAULT_TRACE=trace)
    assert_after_kill(project, ml_env, ref, result, None)
    assert trace_of(trace)[-2:] == ["extraction.batch", "cache.commit"]  # the vectors' commit
    assert assert_cache_valid(project, ref) == kept  # rolled back: not one of them kept

    run = Paused(project, ml_env, ("train", *ARGS), "top.epoch", 2).wait()
    run.proc.send_signal(signal.SIGINT)
    assert run.finish(timeout=120) == 130 and "Cancelled" in run.output(), run.output()[-3000:]
    (name,) = instance_names(project)
    assert statuses(project, ml_env) == {name: "cancelled"}
    assert read_metadata(project, name)["results"]["epochs_done"] == 1
    assert temp_files(project / "trainings" / name) == []
    assert_files_whole(project / "trainings" / name)  # model.keras, top.weights.h5 complete
    assert assert_cache_valid(project, ref) == TOTAL
    meta = assert_resumes(project, ml_env, name)
    _same_phase_one(meta["history"], read_metadata(ref.project, ref.name)["history"])
    assert split_test_files(project / "trainings" / name) == ref.test_files


def _selects(point, reached):
    from vergeml.faults import matches
    return matches(point, reached.split(":")[0], reached)


def _same_phase_one(history, uninterrupted):
    """A resumed run's phase 1 is the one an uninterrupted run trains (same batches, seeds)."""
    rows = [row for row in history if row["phase"] == "top"]
    assert len(rows) == len(uninterrupted)
    for row, expected in zip(rows, uninterrupted):
        assert row["val_loss"] == pytest.approx(expected["val_loss"], rel=1e-3, abs=1e-4), (row, expected)
        assert row["loss"] == pytest.approx(expected["loss"], rel=1e-3, abs=1e-4), (row, expected)


# -- a grid -------------------------------------------------------------------------------

@pytest.mark.slow
def test_kill_between_grid_runs(ref, ml_env, tmp_path):
    project = copy_project(ref, tmp_path / "grid")
    result = run_ml(project, ml_env, "train", *ARGS, *GRID, point="grid.run", hit=2)
    (first,) = instance_names(project)
    assert result.returncode == -9 and statuses(project, ml_env) == {first: "finished"}
    grid = read_metadata(project, first)["grid"]
    assert_files_whole(project / "trainings" / first)
    assert temp_files(project / "trainings" / first) == []
    assert_cache_valid(project, ref)
    listed = run_ml(project, ml_env, "list", f"--grid={grid}", "--output=json")
    assert [row["instance"] for row in json.loads(listed.stdout)] == [first]
    assert_next_train(project, ml_env, ref)


@pytest.mark.slow
def test_kill_inside_a_grid_run_then_resume_it(ref, ml_env, tmp_path):
    project = copy_project(ref, tmp_path / "grid")
    result = run_ml(project, ml_env, "train", *ARGS, *GRID, point="top.epoch", hit=EPOCHS + 2)
    names = instance_names(project)
    (second,) = [n for n in names if read_metadata(project, n).get("grid_run") == 2]
    listed = statuses(project, ml_env)
    assert result.returncode == -9 and sorted(listed.values()) == ["crashed", "finished"]
    assert listed[second] == "crashed"
    assert_files_whole(project / "trainings" / second)
    assert_cache_valid(project, ref)
    meta = assert_resumes(project, ml_env, second)
    assert meta["hyperparameters"]["learning_rate"] == 0.004
    grid = meta["grid"]
    listed = run_ml(project, ml_env, "list", f"--grid={grid}", "--output=json")
    assert {row["status"] for row in json.loads(listed.stdout)} == {"finished"}
    assert_next_train(project, ml_env, ref)


# -- an export ----------------------------------------------------------------------------

def _export_folder_ok(folder):
    """``export/keras`` is absent or complete (never half-written)."""
    final = folder / "keras"
    if final.exists():
        assert json.loads((final / "metadata.json").read_text())["format"] == "keras"
        assert_files_whole(final)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["export.written:keras", "export.install:keras"])
def test_kill_during_export(ref, ml_env, tmp_path, point):
    project = tmp_path / "export"
    shutil.copytree(ref.project, project)
    export = project / "trainings" / ref.name / "export"
    if point.startswith("export.install"):  # installing replaces an earlier export
        assert run_ml(project, ml_env, f"@{ref.name}", "export", "--format=keras").returncode == 0
    result = run_ml(project, ml_env, f"@{ref.name}", "export", "--format=keras", point=point)
    assert result.returncode == -9, result.output[-3000:]
    _export_folder_ok(export)
    assert temp_files(export), "the kill left nothing to clean up: it missed the point"
    assert statuses(project, ml_env)[ref.name] == "finished"
    result = run_ml(project, ml_env, f"@{ref.name}", "export", "--format=keras")
    assert result.returncode == 0 and "Traceback" not in result.output, result.output[-3000:]
    assert temp_files(export) == []  # the killed export's leftovers are gone
    _export_folder_ok(export)
    assert (export / "keras" / "model.keras").is_file()


# -- every point the fault tests use is reached ---------------------------------------------

EXPORT_POINTS = ("export.written:keras", "export.install:keras")


def _used_points():
    """``(point, hit, needs phase 2)`` of every fault the reliability tests inject."""
    from tests.reliability.test_changed_samples import AFTER_FINGERPRINT
    from tests.reliability.test_signals import PHASES
    used = {(k.point, k.hit, k.fine_tune) for k in TRAIN_KILLS.values()}
    used |= {(point, hit, fine_tune) for point, hit, _, fine_tune in PHASES.values()}
    return used | {(AFTER_FINGERPRINT, 1, False), ("top.epoch", 2, False)}


def _assert_reached(points, trace):
    """Each ``(point, hit)`` is matched at least ``hit`` times in ``trace``: a renamed
    or moved point fails here, not as a test that silently stops nowhere."""
    missing = [(point, hit) for point, hit in points
               if sum(_selects(point, reached) for reached in trace) < hit]
    assert not missing, f"fault points not reached in a normal run: {missing}"


def test_points_of_a_plain_run_are_reached(ref):
    """The reference run (fresh cache, phase 1 only) was traced."""
    _assert_reached([(p, h) for p, h, fine_tune in _used_points() if not fine_tune], ref.trace)


@pytest.mark.slow
def test_points_of_phase_2_an_export_and_a_grid_are_reached(ref, ml_env, tmp_path):
    project = copy_project(ref, tmp_path / "traced")
    phase_2 = [(p, h) for p, h, fine_tune in _used_points() if fine_tune]
    runs = [(("train", *ARGS, *FINE_TUNE, "--name=tuned"), phase_2 + [("file.replace:model.keras", 1)]),
            (("train", *ARGS, *GRID), [("grid.run", 2), ("top.epoch", EPOCHS + 2)]),
            (("@tuned", "export", "--format=keras"), [(EXPORT_POINTS[0], 1)]),
            (("@tuned", "export", "--format=keras"), [(p, 1) for p in EXPORT_POINTS])]
    for number, (args, points) in enumerate(runs):
        trace = tmp_path / f"trace-{number}"
        result = run_ml(project, ml_env, *args, VERGEML_FAULT_TRACE=trace)
        assert result.returncode == 0, result.output[-3000:]
        _assert_reached(points, trace_of(trace))
