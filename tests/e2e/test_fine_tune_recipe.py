"""``ml train --fine-tune-epochs=auto`` on real photos, the ants and bees of
``../shared/data/hymenoptera``: the recipe fine-tunes after the frozen top, phase 2
learns, it stores what it chose, and saves a model plain Keras loads."""
import pytest
import yaml

from tests.e2e.conftest import TUNED_NAME, read_metadata

pytestmark = pytest.mark.e2e
NAME = TUNED_NAME
# Measured with these options by hand (recipe batches of 32, phase 2 at 0.0003, the pixel
# path of issue 29): the frozen top alone 0.843 at seed 1. Its epoch 7 scores 35 of the 37
# validation images (0.946; its later epochs 0.865-0.892), phase 2's last epoch 33 of them (0.892),
# more than one standard error below, so the top's epoch is kept at seed 1 although phase
# 2's last scores 0.895 on the 153 test images (one image is 0.65 points). The bar catches
# a phase 2 that damages the backbone and is kept anyway; the phase-2 check below catches
# one that learns nothing.
TEST_ACC_BAR = 0.80


@pytest.fixture(scope="module")
def tuned(tuned_photos):
    """The session's run with the recipe over the real photos: (project, result)."""
    return tuned_photos


def test_the_recipe_fine_tunes_and_phase_2_learns(tuned):
    project, result = tuned
    assert result.returncode == 0, result.output[-3000:]
    assert "fine-tune-epochs auto: 21 epochs for 208 training images" in result.stdout
    assert "Fine-tuning 27 layers of mobilenet" in result.stdout  # every block: 104 images a class
    meta = read_metadata(project, NAME)
    results = meta["results"]
    assert results["test_acc"] >= TEST_ACC_BAR, results
    assert results["tuned"] == "fine-tuned"
    state = yaml.safe_load((project / "trainings" / NAME / "checkpoints" / "state.json").read_text())
    # Phase 2 stands against phase 1 with its last epoch only (keep: last).
    if state["best_phase"] == "fine-tune":
        assert state["best_epoch"] == state["epochs_done"] == meta["history"][-1]["epoch"], state
    else:
        assert state["best_phase"] == "top" and state["best_epoch"] <= len(
            [h for h in meta["history"] if h["phase"] == "top"]), state
    top = [h["val_acc"] for h in meta["history"] if h["phase"] == "top"]
    tuned_acc = [h["val_acc"] for h in meta["history"] if h["phase"] == "fine-tune"]
    assert len(tuned_acc) >= 10, meta["history"]
    # Phase 2 learns: from its first epoch, it climbs back to at least the top's last score.
    assert max(tuned_acc) >= top[-1] and max(tuned_acc) > tuned_acc[0], (top, tuned_acc)
    recipe = meta["fine_tune_recipe"]
    assert (recipe["epochs"], recipe["blocks"], recipe["schedule"], recipe["batch_size"], recipe["keep"]) \
        == (21, 1.0, "cosine", 32, "last")
    assert meta["hyperparameters"]["fine_tune_epochs"] == 21  # stored as the number it chose


def test_the_saved_model_loads_in_plain_keras_with_its_test_accuracy(tuned):
    """model.keras names none of phase 2's own classes (rates by depth, smoothed loss):
    Keras loads it compiled, as a user would, with no custom objects."""
    import keras
    import numpy as np
    project, result = tuned
    assert result.returncode == 0, result.output[-3000:]
    folder = project / "trainings" / NAME
    model = keras.saving.load_model(folder / "checkpoints" / "model.keras")
    stored = np.load(folder / "stats" / "test_predictions.npz")
    assert model.output_shape == (None, 2)
    assert len(stored["y_prob"]) == 153
