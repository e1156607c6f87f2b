"""SIGINT and SIGTERM in each phase of ``ml train``: fingerprinting and
extraction, phase 1 (the top on cached features), phase 2 (fine-tuning).

``ml`` is paused at a named point (:mod:`vergeml.faults`) and the test sends
the signal while it waits there, so the signal lands in the phase meant, not
wherever a sleep happened to end. Exit 130 for SIGINT, 143 for SIGTERM; a run
that had started ends ``cancelled`` with its best checkpoint loadable, and
resumes to the end; the cache stays valid.
"""
import signal

import numpy as np
import pytest

from tests.e2e.conftest import instance_names, read_metadata
from tests.reliability.fault_helpers import (
    ARGS, EPOCHS, FINE_TUNE, FINE_TUNE_EPOCHS, Paused, assert_cache_valid, assert_files_whole,
    assert_next_train, assert_resumes, copy_project, reference, statuses, temp_files)

pytestmark = pytest.mark.e2e

EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}
# phase -> (point, hit, start from the reference's cache, train phase 2)
PHASES = {
    "fingerprint": ("fingerprint.chunk", 2, False, False),
    "extraction": ("extraction.batch", 2, False, False),
    "phase-1": ("top.epoch", 2, True, False),
    "phase-2": ("fine-tune.epoch", 2, True, True),
}


@pytest.fixture(scope="module")
def ref(tmp_path_factory, ml_env):
    return reference(tmp_path_factory, ml_env)


def params():
    # All slow: the fast subset stops a run in each of these ways too
    # (test_kill_points.test_kills_and_signals_in_a_row).
    return [pytest.param(phase, signum, id=f"{phase}-{signum.name}", marks=pytest.mark.slow)
            for phase in PHASES for signum in (signal.SIGINT, signal.SIGTERM)]


@pytest.mark.parametrize("phase, signum", params())
def test_signal_in_each_phase(ref, ml_env, tmp_path, phase, signum):
    point, hit, cached, fine_tune = PHASES[phase]
    project = copy_project(ref, tmp_path / "project", cache=cached)
    args = ("train", *ARGS, *(FINE_TUNE if fine_tune else ()))
    run = Paused(project, ml_env, args, point, hit).wait()
    run.proc.send_signal(signum)  # it waits at the point; the handler ends the wait
    status = run.finish(timeout=120)
    output = run.output()
    assert status == EXIT[signum], (status, output[-3000:])
    assert "Traceback" not in output
    assert_cache_valid(project, ref)
    if phase in ("fingerprint", "extraction"):
        assert instance_names(project) == [] and statuses(project, ml_env) == {}
        assert ("Terminated." if signum == signal.SIGTERM else "Interrupted.") in output
        assert_next_train(project, ml_env, ref)
        return
    (name,) = instance_names(project)
    meta = read_metadata(project, name)
    assert meta["status"] == "cancelled" and statuses(project, ml_env) == {name: "cancelled"}
    assert "Cancelled" in output and "pid" not in meta and "test_acc" not in meta["results"]
    epochs_done = EPOCHS + 1 if fine_tune else 1  # stopped as epoch 2 of the phase began
    assert meta["results"]["epochs_done"] == epochs_done == len(meta["history"])
    folder = project / "trainings" / name
    assert temp_files(folder) == []
    assert_files_whole(folder)
    _best_checkpoint_loads(folder, meta)
    assert_resumes(project, ml_env, name, EPOCHS + (FINE_TUNE_EPOCHS if fine_tune else 0))


def _best_checkpoint_loads(folder, meta):
    """model.keras loads and predicts; in phase 1 its top is the best epoch's top."""
    import keras
    from vergeml.models.imagenet.training.head import build_top
    model = keras.saving.load_model(folder / "checkpoints" / "model.keras")
    assert model.input_shape == (None, 64, 64, 3) and model.output_shape == (None, 10)
    probabilities = model.predict(np.zeros((2, 64, 64, 3), "float32"), verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    best = meta["results"]["best_epoch"]
    best_row = next(row for row in meta["history"] if row["epoch"] == best)
    assert meta["results"]["val_acc"] == pytest.approx(best_row["val_acc"])
    if best_row["phase"] == "top":
        top = build_top(256, 10, 1, 0.0, 0)
        top.load_weights(folder / "checkpoints" / "top.weights.h5")
        for saved, kept in zip(model.get_layer("top").get_weights(), top.get_weights(), strict=True):
            np.testing.assert_array_equal(saved, kept)
