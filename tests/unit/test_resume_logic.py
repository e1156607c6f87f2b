"""Resuming a run, the pure logic: which options a resumed run uses, which
runs may resume, the best-epoch rule and the per-epoch batch order."""
import numpy as np
import pytest

from vergeml.errors import UsageError
from vergeml.instances import create_instance
from vergeml.models.imagenet.training import pipeline
from vergeml.models.imagenet.imagenet_options import TRAIN_OPTIONS
from vergeml.models.imagenet.training.resume import _check_status, resumed_args
from vergeml.models.imagenet.training.run_state import RunState
from vergeml.settings.spelling import stored_key

DEFAULTS = {o.name: o.default for o in TRAIN_OPTIONS}
RUN = {**DEFAULTS, "architecture": "mobilenet", "alpha": 0.25, "size": 32, "epochs": 2,
       "learning-rate": 0.002, "optimizer": "sgd", "fine-tune-epochs": 3,
       "augment": ["flip-horizontal", "rotate:0.05", "zoom:0.1"]}


def make_run(tmp_path, status="running", **overrides):
    """An instance as ``ml train`` stores it (underscore keys, size resolved, labels)."""
    hyperparameters = {stored_key(k): v for k, v in {**RUN, **overrides}.items() if k != "name"}
    hyperparameters["labels"] = ["a", "b"]
    instance = create_instance(tmp_path / "trainings", "imagenet", "mobilenet", hyperparameters,
                               name="the-run")
    if status == "crashed":       # running, but its process started after the run was created
        instance.metadata["results"]["created_at"] = 0.0   # (so the pid is not the run's)
    elif status != "running":
        instance.metadata["status"] = status
    instance.save()
    return instance


# -- resumed_args ------------------------------------------------------------------

def test_the_stored_values_win_over_the_typed_defaults(tmp_path):
    instance = make_run(tmp_path)
    args = resumed_args(instance, dict(DEFAULTS), DEFAULTS)   # ml train --resume=@the-run
    for key in ("architecture", "alpha", "size", "epochs", "learning-rate", "optimizer",
                "fine-tune-epochs"):
        assert args[key] == RUN[key], key
    assert args["name"] == "the-run"
    assert "labels" not in args and args.get("resume") is None


def test_a_run_stored_before_l2_existed_resumes_without_a_penalty(tmp_path):
    instance = make_run(tmp_path)
    del instance.metadata["hyperparameters"]["l2"]
    assert resumed_args(instance, dict(DEFAULTS), DEFAULTS)["l2"] == 0.0
    instance = make_run(tmp_path / "newer", l2=0.0009)       # a new run stores its number
    assert resumed_args(instance, dict(DEFAULTS), DEFAULTS)["l2"] == 0.0009


def test_a_typed_default_value_is_ignored(tmp_path):
    instance = make_run(tmp_path)
    # The run's optimizer is sgd, not the default: adam is issue 14's default (the
    # original's was sgd), so a typed default must not count as a change.
    args = resumed_args(instance, {"learning-rate": DEFAULTS["learning-rate"],
                                   "optimizer": DEFAULTS["optimizer"]}, DEFAULTS)
    assert args["learning-rate"] == 0.002 and args["optimizer"] == "sgd"


def test_a_typed_value_equal_to_the_run_is_fine(tmp_path):
    instance = make_run(tmp_path)
    args = resumed_args(instance, {"learning-rate": 0.002, "alpha": 0.25,
                                   "augment": ("flip-horizontal", "rotate:0.05", "zoom:0.1")},
                        DEFAULTS)
    assert args["learning-rate"] == 0.002


@pytest.mark.parametrize("typed, named", [
    ({"learning-rate": 0.01}, "learning-rate 0.01 (the run has 0.002)"),
    ({"optimizer": "adam", "learning-rate": 0.5}, "learning-rate 0.5"),  # adam: the default
    ({"dropout": 0.5}, "dropout 0.5 (the run has 0.0)"),
    ({"augment": ["zoom:0.2"]}, "augment"),
    ({"architecture": "resnet-50", "alpha": 0.5}, "alpha 0.5"),
])
def test_a_typed_value_that_differs_from_the_run_is_a_usage_error(tmp_path, typed, named):
    instance = make_run(tmp_path, dropout=0.0)
    with pytest.raises(UsageError) as info:
        resumed_args(instance, typed, DEFAULTS)
    message = info.value.message
    assert named in message, message
    assert "\n" not in message and info.value.exit_code == 2
    assert "ml train" in info.value.hint


def test_several_differences_are_all_named(tmp_path):
    instance = make_run(tmp_path)
    with pytest.raises(UsageError) as info:
        resumed_args(instance, {"learning-rate": 0.01, "batch-size": 8}, DEFAULTS)
    assert "learning-rate 0.01" in info.value.message and "batch-size 8" in info.value.message


def test_none_name_and_resume_are_not_hyperparameters(tmp_path):
    instance = make_run(tmp_path)
    args = resumed_args(instance, {"learning-rate": None, "name": "other", "resume": "@the-run"},
                        DEFAULTS)
    assert args["learning-rate"] == 0.002 and args["name"] == "the-run"


def test_epochs_can_be_extended(tmp_path):
    instance = make_run(tmp_path)
    args = resumed_args(instance, {"epochs": 7, "fine-tune-epochs": 4}, DEFAULTS)
    assert (args["epochs"], args["fine-tune-epochs"]) == (7, 4)
    assert args["learning-rate"] == 0.002


def test_epochs_can_be_extended_to_the_default_value(tmp_path):
    """ml @x resume --epochs=50 (the default) names epochs explicitly."""
    # The default is 50 (issue 14's), not the original's 5: the top needs that many to converge.
    default = DEFAULTS["epochs"]
    instance = make_run(tmp_path)                  # epochs 2, below the default
    args = resumed_args(instance, {"epochs": default}, DEFAULTS, explicit=("epochs",))
    assert args["epochs"] == default
    # ml train --resume fills in every default: a default there means "as the run was".
    assert resumed_args(instance, {"epochs": default}, DEFAULTS)["epochs"] == 2


# -- _check_status -------------------------------------------------------------------

@pytest.mark.parametrize("status, fragment", [
    ("finished", "nothing to resume"),
    ("running", "is running"),
])
def test_finished_or_running_runs_cannot_resume(tmp_path, status, fragment):
    instance = make_run(tmp_path, status)
    assert instance.status == status
    with pytest.raises(UsageError) as info:
        _check_status(instance)
    assert fragment in info.value.message and "@the-run" in info.value.message
    assert info.value.exit_code == 2


@pytest.mark.parametrize("status", ["cancelled", "crashed", "failed"])
def test_cancelled_crashed_or_failed_runs_can_resume(tmp_path, status):
    instance = make_run(tmp_path, status)
    assert instance.status == status
    assert _check_status(instance) is None


# -- RunState.better -----------------------------------------------------------------

@pytest.mark.parametrize("best, score, expected", [
    (None, [0.5, -1.0], True),                 # the first epoch
    ([0.5, -1.0], None, True),                 # no validation: the last epoch counts
    ([0.5, -1.0], [0.6, -3.0], True),          # higher val_acc wins, whatever the loss
    ([0.5, -1.0], [0.4, -0.1], False),         # lower val_acc loses, whatever the loss
    ([0.5, -1.0], [0.5, -0.9], True),          # a tie: lower val_loss wins
    ([0.5, -1.0], [0.5, -1.1], False),
    ([0.5, -1.0], [0.5, -1.0], False),         # equal is not better: the earlier is kept
    ([0.5, -1.0], (0.5, -0.9), True),          # tuples (not only lists from state.json)
])
def test_better(best, score, expected):
    assert RunState(best=best).better(score) is expected


# -- epoch_batches -------------------------------------------------------------------

def batches(*args, **kwargs):
    return [b.tolist() for b in pipeline.epoch_batches(*args, **kwargs)]


def test_the_pipeline_module_imports_numpy_only():
    assert "tf" not in vars(pipeline) and "tensorflow" not in vars(pipeline)
    assert vars(pipeline)["np"] is np


def test_each_epoch_is_a_permutation_in_batches():
    result = batches(10, 4, seed=3, first_epoch=0, last_epoch=2)
    assert [len(b) for b in result] == [4, 4, 2, 4, 4, 2]
    first, second = sum(result[:3], []), sum(result[3:], [])
    assert sorted(first) == list(range(10)) and sorted(second) == list(range(10))
    assert first != second                         # epochs are shuffled differently
    assert first != list(range(10))


def test_the_order_depends_on_seed_and_epoch_only():
    assert batches(50, 8, 7, 0, 3) == batches(50, 8, 7, 0, 3)
    assert batches(50, 8, 7, 0, 3) != batches(50, 8, 8, 0, 3)


def test_a_resumed_run_sees_the_tail_of_the_uninterrupted_batches():
    whole = batches(37, 5, 11, 0, 6)
    per_epoch = len(whole) // 6
    assert per_epoch == pipeline.steps_per_epoch(37, 5) == 8
    assert batches(37, 5, 11, 3, 6) == whole[3 * per_epoch:]
    assert batches(37, 5, 11, 5, 6) == whole[5 * per_epoch:]


def test_without_shuffle_the_order_is_kept():
    assert batches(5, 2, 1, 0, 2, shuffle=False) == [[0, 1], [2, 3], [4], [0, 1], [2, 3], [4]]


def test_no_epochs_give_no_batches():
    assert batches(5, 2, 1, 3, 3) == []


def test_steps_per_epoch():
    assert pipeline.steps_per_epoch(64, 64) == 1
    assert pipeline.steps_per_epoch(65, 64) == 2
    assert pipeline.steps_per_epoch(0, 64) == 1
