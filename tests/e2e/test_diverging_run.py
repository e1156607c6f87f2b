"""Issue 30 item 1: a run whose loss becomes NaN or infinite.

One grid on a small real project (200 digits, MobileNet alpha 0.25 at 32 px),
SGD with an L2 penalty at learning rates that blow up: 1e300 is NaN in the
first epoch (nothing to keep: a one-line error, the run ``failed``), 300 grows
until it overflows a few epochs in (the best earlier epoch is saved and
tested). Before the fix both crashed with ``TypeError ... This looks like a
bug`` and the grid stopped at the first.
"""
import re

import keras
import pytest

from tests.conftest import run_ml_process
from tests.e2e.conftest import digits_subset, instance_names, read_metadata

pytestmark = pytest.mark.e2e

ARGS = ("--architecture=mobilenet", "--alpha=0.25", "--size=32", "--batch-size=16",
        "--optimizer=sgd", "--l2=0.01", "--epochs=8", "--learning-rate=1e300,300")


def test_a_diverging_grid_fails_one_run_and_keeps_the_best_epoch_of_the_other(tmp_path, ml_env):
    project = digits_subset(tmp_path / "digits", 20)
    result = run_ml_process("train", *ARGS, cwd=project, env=ml_env, timeout=300)
    assert "Traceback" not in result.output and "looks like a bug" not in result.output
    assert result.returncode == 1, result.output[-3000:]
    by_run = {read_metadata(project, n)["grid_run"]: n for n in instance_names(project)}
    assert sorted(by_run) == [1, 2], result.output[-3000:]

    failed = read_metadata(project, by_run[1])
    assert failed["status"] == "failed" and "loss became NaN" in failed["error"]
    assert "lower --learning-rate" in failed["error"]
    assert "Warning: grid run 1/2 failed: loss became NaN or infinite at epoch 1" in result.stderr

    kept = read_metadata(project, by_run[2])
    (warning,) = [line for line in result.stderr.splitlines() if "loss became" in line
                  and "grid run" not in line]
    diverged = int(re.search(r"at epoch (\d+)", warning).group(1))
    assert kept["status"] == "finished", warning
    results = kept["results"]
    assert results["diverged_epoch"] == diverged == results["epochs_done"] == len(kept["history"])
    assert 1 <= results["best_epoch"] < diverged
    assert f"keeping epoch {results['best_epoch']}" in warning
    assert "test_acc" in results and "test_loss" in results
    assert kept["history"][-1]["epoch"] == diverged  # recorded, but never the best
    model = keras.saving.load_model(project / "trainings" / by_run[2] / "checkpoints" / "model.keras")
    assert model.output_shape == (None, 10)
