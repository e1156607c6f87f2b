"""The readable files beside data.yaml: the project file copy and stats/predictions.csv."""
import csv
import io
import os

import pytest
import yaml

from vergeml.settings.project_settings import load_project_file
from vergeml.instances import Instance


@pytest.fixture
def instance(tmp_path):
    (tmp_path / "run" / "stats").mkdir(parents=True)
    return Instance(tmp_path / "run")


def test_predictions_csv_has_a_header_and_one_row_per_sample():
    from vergeml.instances.run_files import predictions_csv
    text = predictions_csv(["cat/1.jpg", "Tabby Cat/a,b.png"], [0, 2],
                           [[0.7, 0.2, 0.1], [0.5, 0.1, 0.4]], ["cat", "dog", "Tabby Cat"])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [
        ["file", "true_label", "predicted_label", "prob_cat", "prob_dog", "prob_Tabby Cat"],
        ["cat/1.jpg", "cat", "cat", "0.700000", "0.200000", "0.100000"],
        ["Tabby Cat/a,b.png", "Tabby Cat", "cat", "0.500000", "0.100000", "0.400000"],
    ]
    assert "\r" not in text


def test_a_label_named_file_does_not_clash_with_the_first_column():
    from vergeml.instances.run_files import predictions_csv
    text = predictions_csv(["x.png"], [1], [[0.25, 0.75]], ["file", "other"])
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["file"] == "x.png" and row["prob_file"] == "0.250000"
    assert row["predicted_label"] == "other"


def test_predictions_csv_is_written_atomically_in_stats(instance):
    from vergeml.instances.run_files import write_predictions_csv
    write_predictions_csv(instance, ["a.png"], [0], [[1.0, 0.0]], ["a", "b"])
    path = instance.path / "stats" / "predictions.csv"
    assert path == instance.predictions_csv_path
    assert path.read_text().splitlines()[1] == "a.png,a,a,1.000000,0.000000"
    assert os.listdir(path.parent) == ["predictions.csv"]  # no temporary file left


def test_the_project_file_is_copied_verbatim(tmp_path, instance):
    from vergeml.instances.run_files import read_project_text, write_project_file
    source = tmp_path / "vergeml.yaml"
    source.write_bytes(b"model: imagenet  # mine\r\ntrain:\n  epochs: 3\n")
    write_project_file(instance, read_project_text(source))
    assert (instance.path / "vergeml.yaml").read_bytes() == source.read_bytes()
    assert instance.project_file_path == instance.path / "vergeml.yaml"
    assert read_project_text(None) is None
    assert read_project_text(tmp_path / "gone.yaml") is None


def test_resolved_settings_make_a_valid_project_file(tmp_path):
    from vergeml.instances.run_files import RESOLVED_HEADER, resolved_project_text
    text = resolved_project_text(
        {"model": "imagenet", "val-split": "10%", "cache": None, "random-seed": 7},
        {"data": {"preprocess": [{"op": "resize", "width": 8, "height": 8}]},
         "train": {"epochs": 1, "learning-rate": 0.01, "size": "auto"}})
    assert text.startswith(RESOLVED_HEADER)
    path = tmp_path / "vergeml.yaml"
    path.write_text(text)
    project = load_project_file(path)
    assert project.data["model"] == "imagenet" and "cache" not in project.data
    assert project.data["train"] == {"epochs": 1, "learning-rate": 0.01, "size": "auto"}
    assert yaml.safe_load(text)["data"]["preprocess"][0]["op"] == "resize"
