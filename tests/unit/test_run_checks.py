"""Checks before anything trains (issue 30, items 8 and 9): every grid run's options,
and one warning line for each option that has no effect."""
import pytest

from vergeml.runtimes import tensorflow_setup as backend
from vergeml.settings.project_settings import ProjectFile
from vergeml.data.split import SplitSpec
from vergeml.settings.environment import Environment
from vergeml.errors import ConfigError, VergeMLError
from vergeml.models.imagenet.training.run_checks import DEFAULTS, check_runs
from vergeml.models.imagenet.training.train import _check_dataset

RUN = {**DEFAULTS, "architecture": "mobilenet", "alpha": 0.25, "size": 32, "weights": "none"}


def env(tmp_path, **settings):
    return Environment(tmp_path, ProjectFile(), {"val-split": "10%", **settings})


def test_every_grid_run_is_checked_before_the_first_trains(tmp_path):
    runs = [RUN, {**RUN, "architecture": "resnet-50"}]
    with pytest.raises(ConfigError) as raised:
        check_runs(runs, env(tmp_path))
    assert raised.value.message == ("grid run 2 of 2 (architecture=resnet-50): invalid alpha value: "
                                    "0.25: resnet-50 has no alpha; only mobilenet, mobilenet-v2, "
                                    "mobilenet-v3-small, mobilenet-v3-large do")


@pytest.mark.parametrize("change, expected", [
    ({"size": 16}, "invalid size: 16"),
    ({"augment": ["zoom:0.1", "twirl"]}, "unknown augmentation 'twirl'"),
    ({"architecture": "resnet-5000"}, "unknown architecture"),
    ({"weights": "/no/such/file.h5"}, "weights file not found"),
])
def test_a_single_run_keeps_its_own_message(tmp_path, change, expected):
    with pytest.raises(VergeMLError) as raised:
        check_runs([{**RUN, **change}], env(tmp_path))
    assert expected in raised.value.message and "grid run" not in raised.value.message


def test_good_runs_pass_without_tensorflow(tmp_path, capsys):
    """The unit tests' guard fails any test that imports TensorFlow or Keras."""
    runs = [dict(DEFAULTS, architecture=a, size=s) for a in ("mobilenet", "resnet-50", "efficientnet")
            for s in (96, "auto")]
    check_runs(runs, env(tmp_path))
    assert capsys.readouterr().err == ""


def test_options_without_effect_get_one_warning_each(tmp_path, capsys):
    runs = [{**RUN, "fine-tune-layers": 3, "augment": ["none", "zoom:0.1"],
             "early-stopping-patience": 2, "learning-rate": lr} for lr in (0.1, 0.01)]
    check_runs(runs, env(tmp_path, **{"val-split": "0"}))
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "Warning: --fine-tune-layers, --augment only act in phase 2, which --fine-tune-epochs=0 "
        "turns off: ignored",
        "Warning: --early-stopping-patience watches the validation loss, and --val-split is 0: "
        "early stopping is off and the last epoch is kept",
        "Warning: --augment=none,zoom:0.1: 'none' is ignored next to other augmentations; give "
        "--augment=none alone for no augmentation"]
    check_runs([{**RUN, "fine-tune-epochs": 2, "fine-tune-layers": 3, "early-stopping-patience": 2}],
               env(tmp_path))
    assert capsys.readouterr().err == ""


def test_a_gpu_asked_for_but_missing_is_a_warning(capsys):
    class NoGPU:
        class config:
            @staticmethod
            def list_physical_devices(kind):
                return []
    backend._warn_no_gpu(NoGPU, "gpu:1")
    assert "--device=gpu:1: TensorFlow sees no GPU here" in capsys.readouterr().err
    backend._warn_no_gpu(NoGPU, "auto")
    assert capsys.readouterr().err == ""


class _Data:
    """Just what _check_dataset reads of a data set."""

    labels = ["a", "b"]

    def __init__(self, sizes, specs):
        self.sizes, self.specs = sizes, specs

    def samples(self, split):
        return [object()] * self.sizes[split]

    def split_spec(self, split):
        return self.specs.get(split)


def test_an_empty_test_split_is_a_warning_unless_asked_for(capsys):
    ten = SplitSpec("percent", 0.1)
    _check_dataset(_Data({"train": 8, "val": 2, "test": 0}, {"val": ten, "test": ten}), {})
    assert "the test split is empty: too few images per class for test-split 10%" in \
        capsys.readouterr().err
    _check_dataset(_Data({"train": 8, "val": 2, "test": 0}, {"val": ten, "test": SplitSpec("count", 0)}), {})
    assert capsys.readouterr().err == ""
    with pytest.raises(VergeMLError, match="the validation split is empty"):
        _check_dataset(_Data({"train": 8, "val": 0, "test": 2}, {"val": ten, "test": ten}), {})


def test_early_stopping_is_on_by_default_and_quiet_without_validation(tmp_path, capsys):
    """Issue 25: the default patience stops the top near its best epoch; with --val-split=0
    there is nothing to watch, and only a patience the user set is worth a warning."""
    assert DEFAULTS["early-stopping-patience"] == 20
    check_runs([dict(RUN)], env(tmp_path, **{"val-split": "0"}))
    assert capsys.readouterr().err == ""
