"""Issue 30 item 1: an epoch whose loss is NaN or infinite never counts as the best;
it stops the run, whose best earlier epoch stays committed and recorded."""
import math

import numpy as np
import pytest

from tests.integration.test_training_logic import run_epochs as logic_run_epochs
from vergeml.instances import create_instance

NAN = float("nan")


@pytest.fixture
def instance(tmp_path):
    return create_instance(tmp_path / "trainings", "imagenet", "mobilenet",
                           {"layers": 1, "dropout": 0.0}, name="nan-bot")


def run_epochs(instance, logs):
    return logic_run_epochs(instance, logs, patience=5)


def good(val_acc, val_loss):
    return {"acc": 0.5, "loss": 1.0, "val_acc": val_acc, "val_loss": val_loss}


@pytest.mark.parametrize("bad", [
    {"acc": 0.1, "loss": NAN, "val_acc": 0.9, "val_loss": NAN},   # the case
    {"acc": 0.1, "loss": math.inf, "val_acc": 0.9, "val_loss": 3.0},
    {"acc": 0.1, "loss": 1.0, "val_acc": 0.9, "val_loss": NAN},
])
def test_a_nan_epoch_is_never_the_best_and_stops_training(instance, bad):
    logs = [good(0.5, 1.0), good(0.7, 0.8), bad, good(0.9, 0.1)]
    top, callback = run_epochs(instance, logs)
    state = callback.state
    assert getattr(top, "stop_training", False) and state.diverged == 3 and state.epochs_done == 3
    assert (state.best_epoch, state.best_file) == (2, "best-2.weights.h5")
    assert instance.results["best_epoch"] == 2 and instance.results["val_acc"] == pytest.approx(0.7)
    assert instance.results["epochs_done"] == 3 == len(instance.metadata["history"])
    top.load_weights(instance.checkpoints_dir / state.best_file)
    assert np.all(np.asarray(top.get_layer("predictions").kernel) == 2.0)
    lines = instance.history_path.read_text().splitlines()
    assert len(lines) == 4 and "nan" not in lines[3].lower() and "inf" not in lines[3].lower()


def test_without_validation_a_nan_epoch_is_not_the_last_kept(instance):
    logs = [{"acc": 0.5, "loss": 1.0}, {"acc": 0.4, "loss": NAN}]
    _, callback = run_epochs(instance, logs)
    assert callback.state.diverged == 2 and callback.state.best_epoch == 1


def test_nan_at_the_first_epoch_leaves_no_best(instance):
    _, callback = run_epochs(instance, [{"acc": 0.1, "loss": NAN, "val_acc": 0.1, "val_loss": NAN}])
    assert callback.state.diverged == 1 and callback.state.best_file is None
    assert "best_epoch" not in instance.results and instance.results["epochs_done"] == 1
