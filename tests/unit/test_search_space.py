"""Searches: ranges such as ``--learning-rate=1e-4..1e-1``, ``--search=random|asha``,
``--trials=N`` (the plan only; no TensorFlow)."""
import math
import random
import statistics

import pytest

from vergeml.errors import ConfigError, UsageError
from vergeml.grid.grid_plan import GRID_OPTIONS, axis_text, plan
from vergeml.models.imagenet.imagenet_options import TRAIN_OPTIONS
from vergeml.settings.option import OptionValueError
from vergeml.settings.option_set import OptionSet
from vergeml.settings.value_range import ValueRange, split_range

OPTIONS = TRAIN_OPTIONS + GRID_OPTIONS


def resolve(command_line=None, section=None):
    return OptionSet(OPTIONS).resolve(command_line or {}, section, where="train", lists=True)


@pytest.mark.parametrize("text, ends", [
    ("1e-4..1e-1", ("1e-4", "1e-1")), ("0.1..0.5", ("0.1", "0.5")), (" 16 .. 256 ", ("16", "256")),
    ("0.001", None), ("1e-4", None), ("..5", None), ("5..", None), ("1..2..3", None), (3, None)])
def test_split_range(text, ends):
    assert split_range(text) == ends


def test_ranges_parse_on_numeric_options_from_the_command_line_and_the_project_file():
    args = resolve({"learning-rate": "1e-4..1e-1", "batch-size": "16..256"},
                   {"dropout": "0..0.5"})
    assert args["learning-rate"] == ValueRange(1e-4, 0.1)
    assert args["batch-size"] == ValueRange(16, 256, integer=True)
    assert args["dropout"] == ValueRange(0.0, 0.5)


@pytest.mark.parametrize("values, message", [
    ({"learning-rate": "0.1..1e-4"}, "must go from low to high"),
    ({"learning-rate": "auto..0.1"}, "needs two numbers"),
    ({"dropout": "0..1.5"}, "dropout"),
    ({"epochs": "1..2.5"}, "epochs"),
])
def test_bad_ranges_are_refused(values, message):
    with pytest.raises((OptionValueError, UsageError, ConfigError)) as err:
        resolve(values)
    assert message in str(err.value)


def test_log_scale_only_for_positive_ranges_spanning_ten_times():
    assert ValueRange(1e-4, 1e-1).log and ValueRange(16, 256, integer=True).log
    assert not ValueRange(0.0, 0.5).log and not ValueRange(0.1, 0.5).log


def test_draws_stay_in_range_and_follow_the_scale():
    rng = random.Random(1)
    log = [ValueRange(1e-4, 1e-1).draw(rng) for _ in range(4000)]
    assert all(1e-4 <= v <= 1e-1 for v in log)
    # Log-uniform: a third of the draws in each decade.
    decades = [sum(10 ** (-4 + d) <= v < 10 ** (-3 + d) for v in log) / len(log) for d in range(3)]
    assert all(abs(share - 1 / 3) < 0.04 for share in decades), decades
    flat = [ValueRange(0.0, 0.5).draw(rng) for _ in range(4000)]
    assert abs(statistics.mean(flat) - 0.25) < 0.01
    ints = [ValueRange(1, 3, integer=True).draw(rng) for _ in range(3000)]
    assert set(ints) == {1, 2, 3} and all(isinstance(v, int) for v in ints)
    assert all(abs(ints.count(v) / 3000 - 1 / 3) < 0.04 for v in (1, 2, 3))


def test_a_random_search_draws_trials_from_ranges_and_lists():
    args = resolve({"learning-rate": "1e-4..1e-1", "dropout": "0,0.3", "search": "random",
                    "trials": "7"})
    base, runs, grid_axes = plan(args, OPTIONS, seed=42)
    assert len(runs) == 7 and "search" not in base and "trials" not in base
    assert all(1e-4 <= r["learning-rate"] <= 0.1 and r["dropout"] in (0.0, 0.3) for r in runs)
    assert len({r["learning-rate"] for r in runs}) == 7
    assert plan(args, OPTIONS, seed=42)[1] == runs  # the seed decides
    assert plan(args, OPTIONS, seed=43)[1] != runs
    assert axis_text(grid_axes["learning-rate"]) == "range 0.0001..0.1, log scale"
    assert axis_text(grid_axes["dropout"]) == "2 values"


def test_a_search_of_lists_only_draws_distinct_combinations():
    args = resolve({"learning-rate": "0.001,0.01,0.1", "dropout": "0,0.3", "search": "random",
                    "trials": "4"})
    runs = plan(args, OPTIONS, seed=1)[1]
    assert len(runs) == 4 and len({tuple(sorted(r.items())) for r in runs}) == 4


def test_asha_without_trials_takes_the_whole_grid():
    args = resolve({"learning-rate": "0.001,0.01,0.1", "dropout": "0,0.3", "search": "asha"})
    assert len(plan(args, OPTIONS, seed=1)[1]) == 6


@pytest.mark.parametrize("values, message", [
    ({"learning-rate": "1e-4..1e-1"}, "is a range: a grid needs lists"),
    ({"learning-rate": "1e-4..1e-1", "search": "random"}, "--trials=N"),
    ({"learning-rate": "0.1,0.2", "trials": "2"}, "add --search=random or asha"),
    ({"learning-rate": "1e-4..1e-1", "search": "random", "trials": "1001"}, "more than 1,000"),
])
def test_search_options_that_do_not_fit_together(values, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        plan(resolve(values), OPTIONS, seed=1)


def test_a_drawn_float_reads_as_typed():
    value = ValueRange(1e-4, 1e-1).draw(random.Random(3))
    assert value == float(f"{value:.6g}") and not math.isnan(value)
