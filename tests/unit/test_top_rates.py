"""learning-rate and fine-tune-learning-rate auto (issue 14's defaults of the top)."""
import pytest

from vergeml.models.imagenet.training.fine_tune import fine_tune_rate
from vergeml.models.imagenet.imagenet_options import TRAIN_OPTIONS
from vergeml.models.imagenet.training.head import (AUTO_FINE_TUNE_LEARNING_RATE, AUTO_L2_C,
                                         AUTO_LEARNING_RATE, resolve_l2, resolve_learning_rates)

DEFAULTS = {o.name: o.default for o in TRAIN_OPTIONS}


def test_the_top_defaults_are_issue_14s():
    # Not the original's sgd / 0.0001 / 5 epochs: with those the top stayed far
    # below a logistic regression on the same features (bench/bench_top_probe.py).
    assert (DEFAULTS["optimizer"], DEFAULTS["learning-rate"], DEFAULTS["epochs"], DEFAULTS["l2"]) \
        == ("adam", "auto", 100, "auto")
    assert DEFAULTS["fine-tune-learning-rate"] == "auto"


def test_both_auto_give_the_constants():
    resolved = resolve_learning_rates(DEFAULTS)
    assert resolved["learning-rate"] == AUTO_LEARNING_RATE == 0.01
    assert resolved["fine-tune-learning-rate"] == pytest.approx(AUTO_FINE_TUNE_LEARNING_RATE)
    assert AUTO_FINE_TUNE_LEARNING_RATE == pytest.approx(0.0003)
    assert fine_tune_rate(DEFAULTS) == AUTO_FINE_TUNE_LEARNING_RATE


@pytest.mark.parametrize("rate, fine_tune, expected", [
    (0.001, "auto", (0.001, 0.00003)),     # a given rate: phase 2 gets 3% of it, as auto
    (0.002, None, (0.002, 0.00006)),
    ("auto", 0.00003, (0.01, 0.00003)),    # a given phase-2 rate is kept
    (0.05, 0.001, (0.05, 0.001)),
])
def test_a_given_rate_wins(rate, fine_tune, expected):
    args = {**DEFAULTS, "learning-rate": rate, "fine-tune-learning-rate": fine_tune}
    resolved = resolve_learning_rates(args)
    assert (resolved["learning-rate"], resolved["fine-tune-learning-rate"]) == \
        pytest.approx(expected)
    assert fine_tune_rate(resolved) == pytest.approx(expected[1])


def test_typing_the_auto_rate_gives_phase_2_what_auto_gives():
    """Issue 30: --learning-rate=0.01 gave phase 2 0.001 while auto (also 0.01) gave its own rate."""
    typed = resolve_learning_rates({**DEFAULTS, "learning-rate": AUTO_LEARNING_RATE})
    auto = resolve_learning_rates(DEFAULTS)
    assert typed == auto
    assert typed["fine-tune-learning-rate"] == pytest.approx(AUTO_FINE_TUNE_LEARNING_RATE)


def test_resolving_is_idempotent_and_leaves_the_input_alone():
    args = dict(DEFAULTS)
    once = resolve_learning_rates(args)
    assert resolve_learning_rates(once) == once
    assert args == DEFAULTS                                   # a new dict, the input unchanged
    assert {k: v for k, v in once.items() if "learning-rate" not in k} == \
        {k: v for k, v in DEFAULTS.items() if "learning-rate" not in k}


def test_a_run_stored_before_auto_keeps_a_tenth():
    """A run stored with a number and fine-tune auto (before learning-rate had auto) resumes
    with the rates it had: a tenth of its learning rate in phase 2."""
    stored = {**DEFAULTS, "optimizer": "sgd", "learning-rate": 0.0001, "fine-tune-learning-rate": "auto"}
    assert fine_tune_rate(stored) == pytest.approx(0.00001)
    assert resolve_learning_rates(stored)["learning-rate"] == 0.0001


@pytest.mark.parametrize("train_count", [1, 270, 20000])
def test_l2_auto_is_scikit_learns_penalty_spread_over_the_training_split(train_count):
    # C * sum(losses) + |w|^2 / 2 per sample: mean loss + |w|^2 / (2 C n).
    resolved = resolve_l2(DEFAULTS, train_count)
    assert resolved["l2"] == pytest.approx(1 / (2 * AUTO_L2_C * train_count))
    assert AUTO_L2_C == 2.0
    assert resolve_l2(resolved, 5) == resolved                # a number is kept (resuming)
    assert DEFAULTS["l2"] == "auto"                           # the input unchanged


def test_l2_given_or_zero_is_kept():
    assert resolve_l2({**DEFAULTS, "l2": 0.0}, 100)["l2"] == 0.0
    assert resolve_l2({**DEFAULTS, "l2": 0.003}, 100)["l2"] == 0.003
    assert resolve_l2({**DEFAULTS, "l2": "auto"}, 0)["l2"] == pytest.approx(1 / (2 * AUTO_L2_C))
