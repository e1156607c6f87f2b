"""An empty validation split stops `ml train` unless --val-split=0 asked for none;
`ml list` shows how a run without validation chose its checkpoint."""
import pytest

from tests.unit.test_data_helpers import image_project, make_env
from vergeml.data import load_dataset
from vergeml.errors import VergeMLError
from vergeml.instances.listing import DEFAULT_COLUMNS, default_columns, render_table
from vergeml.models.imagenet.training.train import _check_dataset


def test_too_few_images_for_a_validation_split_is_a_one_line_error(tmp_path):
    project = image_project(tmp_path / "p", per_class=2)    # 10 % of 2 rounds to 0
    with pytest.raises(VergeMLError) as info:
        _check_dataset(load_dataset(make_env(project)), {})
    error = info.value
    assert error.exit_code == 1 and error.hint is None and "\n" not in error.message
    assert error.message.startswith("the validation split is empty")
    assert "val-split 10%" in error.message and "--val-split=2" in error.message
    assert "add more images" in error.message and "--val-split=0" in error.message


@pytest.mark.parametrize("value", ["0", "0%"])
def test_an_explicit_zero_trains_without_validation(tmp_path, value):
    project = image_project(tmp_path / "p", per_class=2)
    dataset = load_dataset(make_env(project, val_split=value))
    assert dataset.split_sizes()["val"] == 0 and dataset.split_spec("val").is_zero
    _check_dataset(dataset, {})   # no error


def test_three_images_per_class_give_a_validation_split(tmp_path):
    project = image_project(tmp_path / "p", per_class=3)
    dataset = load_dataset(make_env(project))
    assert dataset.split_sizes() == {"train": 2, "val": 2, "test": 2}
    _check_dataset(dataset, {})


class FakeRow:
    def __init__(self, name, **results):
        self.name, self.results = name, results

    def get(self, key):
        from vergeml.instances.listing import _MISSING
        if key == "instance":
            return self.name
        return self.results.get(key, _MISSING)


def test_list_shows_the_selection_of_a_run_without_validation():
    plain, no_val = FakeRow("a-tron", epochs_done=3), FakeRow(
        "b-tron", epochs_done=2, best_epoch=2, selection="last-epoch (no validation split)")
    assert default_columns([plain]) == DEFAULT_COLUMNS
    columns = default_columns([plain, no_val])
    assert columns == DEFAULT_COLUMNS + ("selection",)
    table = render_table([plain, no_val], columns)
    assert "selection" in table.splitlines()[0]
    assert "last-epoch (no validation split)" in table.splitlines()[-1]
