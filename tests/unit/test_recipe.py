"""The fine-tune recipe's choices (pure Python: no TensorFlow)."""
import math

import pytest

from vergeml.models.imagenet.training.augment import AUTO_AUGMENT, LEGACY_AUGMENT, is_auto, parse_augment
from vergeml.models.imagenet.training.recipe import (LEGACY, MAX_EPOCHS, MIN_EPOCHS, Recipe, auto_epochs,
                                                     block_of, choose_recipe, depth_rates, phase_margin,
                                                     whole_blocks)
from vergeml.models.imagenet.training.run_state import RunState


@pytest.mark.parametrize("train_count, batch, epochs", [
    (208, 64, 30),        # hymenoptera: 4 steps an epoch, capped at the most
    (2000, 32, 8),        # 63 steps: the least, not 2
    (1600, 64, 8),        # 25 steps: 150 / 25 = 6, raised to the least
    (600, 64, 15),        # 10 steps: 15 epochs
    (1, 64, 30),
])
def test_auto_epochs_aim_at_a_step_budget_within_bounds(train_count, batch, epochs):
    assert auto_epochs(train_count, batch) == epochs
    assert MIN_EPOCHS <= epochs <= MAX_EPOCHS


def test_an_explicit_number_of_epochs_is_kept():
    assert choose_recipe(208, 2, 64, epochs=7).epochs == 7
    assert choose_recipe(208, 2, 64, epochs="auto").epochs == 21  # 7 steps of 32 an epoch


def test_phase_2_steps_in_batches_of_at_most_32():
    """A batch of 64 at 224 px kept phase 2 above 1.5 GB (bench_fine_tune_memory.py)."""
    assert choose_recipe(208, 2, 64).batch_size == 32
    assert choose_recipe(208, 2, 16).batch_size == 16   # a smaller batch typed is kept
    assert LEGACY.batch_size == 0                       # runs before recipes: the run's batch
    assert Recipe.from_dict({"epochs": 3}).batch_size == 0


def test_small_classes_unfreeze_half_the_blocks_larger_ones_all():
    assert choose_recipe(60, 2, 32).blocks == 0.5      # 30 images a class
    assert choose_recipe(208, 2, 32).blocks == 1.0     # 104 a class


def test_rates_fall_geometrically_with_depth():
    rates = depth_rates(5, 0.1)
    assert rates[-1] == 1.0 and rates[0] == pytest.approx(0.1)
    ratios = [b / a for a, b in zip(rates, rates[1:])]
    assert ratios == pytest.approx([ratios[0]] * 4)
    assert depth_rates(1, 0.1) == [1.0] and depth_rates(0, 0.1) == []


@pytest.mark.parametrize("name, block", [
    ("conv_dw_5", "5"), ("conv_pw_5", "5"), ("conv_pw_13", "13"), ("conv1", "1"),
    ("conv4_block3_1_conv", "4"), ("block_16_project", "16"), ("predictions", "predictions"),
])
def test_blocks_are_named_by_the_first_number(name, block):
    assert block_of(name) == block


def test_whole_blocks_never_split_a_block():
    names = ["conv1"] + [f"conv_{kind}_{i}" for i in range(1, 14) for kind in ("dw", "pw")]
    assert whole_blocks(names, 1.0) == 27
    half = whole_blocks(names, 0.5)                   # 7 of 14 blocks: 13..7, two layers each
    assert half == 14
    assert {block_of(n) for n in names[-half:]} == {str(i) for i in range(7, 14)}
    assert whole_blocks(names, 0.01) == 2             # at least one whole block


def test_a_stored_recipe_round_trips_and_unknown_keys_are_ignored():
    recipe = choose_recipe(500, 5, 32)
    stored = recipe.to_dict()
    assert stored["augment"] == list(AUTO_AUGMENT)
    assert Recipe.from_dict({**stored, "from_the_future": 1}) == recipe


def test_the_legacy_recipe_is_phase_2_as_it_was():
    assert (LEGACY.schedule, LEGACY.depth_decay, LEGACY.label_smoothing, LEGACY.tolerance, LEGACY.keep) == \
        ("constant", 1.0, 0.0, 0.0, "best")
    assert LEGACY.augment == LEGACY_AUGMENT


def test_auto_augment_parses_and_auto_alone_is_left_to_the_recipe():
    assert is_auto(["auto"]) and is_auto(["AUTO "]) and not is_auto(["auto", "flip-horizontal"])
    assert parse_augment(["auto"]) == []
    names = [name for name, _ in parse_augment(AUTO_AUGMENT)]
    assert names == ["flip-horizontal", "crop", "brightness", "contrast", "saturation", "erase"]


def test_the_margin_is_standard_errors_of_the_best_accuracy():
    margin = phase_margin(1.0, 37)
    assert margin(0.946) == pytest.approx(math.sqrt(0.946 * 0.054 / 37))
    assert margin(1.0) == 0.0                          # a perfect phase 1 is matched, not excused
    assert phase_margin(0.0, 37) is None and phase_margin(1.0, 0) is None


def test_phase_2_wins_within_the_margin_only_against_phase_1():
    state = RunState(best=[0.946, -0.200], best_phase="top")
    assert not state.better([0.919, -0.22], "fine-tune")             # strictly: lower
    assert state.better([0.919, -0.22], "fine-tune", margin=0.04)    # within the noise
    assert not state.better([0.89, -0.22], "fine-tune", margin=0.04)
    state.best_phase = "fine-tune"                                    # within phase 2: strict
    assert not state.better([0.919, -0.22], "fine-tune", margin=0.04)


def test_phase_2s_last_epoch_stands_against_phase_1_within_one_standard_error():
    """Phase 2's best-looking epoch on a few dozen images is as much noise as signal; its last is kept."""
    recipe = choose_recipe(208, 2, 64)
    assert (recipe.keep, recipe.tolerance) == ("last", 1.0)
    assert "last epoch" in recipe.describe()
    # A recipe stored before ``keep`` existed keeps its best-epoch rule and its tolerance.
    assert Recipe.from_dict({"epochs": 21, "tolerance": 1.0}).keep == "best"
    assert phase_margin(recipe.tolerance, 37)(0.946) == pytest.approx(math.sqrt(0.946 * 0.054 / 37))
