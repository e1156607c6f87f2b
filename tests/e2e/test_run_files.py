"""End-to-end: a real `ml train` stores per-label metrics, a copy of the project file and a
readable stats/predictions.csv; `ml list` finds the per-label metrics by the original names."""
import csv
import io
import shutil

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import precision_recall_fscore_support

from tests.conftest import run_ml_process
from tests.e2e.conftest import read_metadata, train

pytestmark = pytest.mark.e2e

LABELS = ["Tabby Cat", "cat", "dog"]          # sorted, as the data set orders them
KEYS = {"Tabby Cat": "tabby_cat", "cat": "cat", "dog": "dog"}
COLOURS = {"Tabby Cat": (200, 120, 40), "cat": (30, 30, 30), "dog": (220, 220, 220)}
FAST = ("--weights=none", "--architecture=mobilenet", "--alpha=0.25", "--size=32",
        "--epochs=1", "--batch-size=8")
PROJECT_YAML = ("# my project, with comments kept as typed\n"
                "model: imagenet\n"
                "val-split: 3          # a count\n"
                "test-split: testset\n"
                "train:\n"
                "  optimizer: adam\n")


def write_images(folder, count, seed):
    rng = np.random.default_rng(seed)
    for label, colour in COLOURS.items():
        (folder / label).mkdir(parents=True)
        for i in range(count):
            pixels = np.clip(np.array(colour) + rng.normal(0, 20, (40, 40, 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(folder / label / f"{i}.png")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, ml_env):
    """A project trained once: (project, instance name)."""
    project = tmp_path_factory.mktemp("runfiles") / "proj"
    write_images(project / "samples", 10, seed=1)
    write_images(project / "testset", 4, seed=2)
    (project / "vergeml.yaml").write_text(PROJECT_YAML)
    result, name = train(project, ml_env, *FAST)
    assert result.returncode == 0, result.output[-3000:]
    return project, name


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_per_label_metrics_are_stored_and_match_the_predictions(trained):
    project, name = trained
    results = read_metadata(project, name)["results"]
    rows = read_csv(project / "trainings" / name / "stats" / "predictions.csv")
    truth = [LABELS.index(r[1]) for r in rows[1:]]
    predicted = [LABELS.index(r[2]) for r in rows[1:]]
    precision, recall, f1, _ = precision_recall_fscore_support(truth, predicted, labels=[0, 1, 2],
                                                               zero_division=0)
    for i, label in enumerate(LABELS):
        assert results[f"{KEYS[label]}_precision"] == pytest.approx(precision[i])
        assert results[f"{KEYS[label]}_recall"] == pytest.approx(recall[i])
        assert results[f"{KEYS[label]}_f1"] == pytest.approx(f1[i])


def test_predictions_csv_is_readable_and_agrees_with_the_npz(trained):
    project, name = trained
    stats = project / "trainings" / name / "stats"
    rows = read_csv(stats / "predictions.csv")
    assert rows[0] == ["file", "true_label", "predicted_label"] + [f"prob_{l}" for l in LABELS]
    stored = np.load(stats / "test_predictions.npz")
    assert len(rows) - 1 == len(stored["files"]) == 12
    for row, file, truth, probs in zip(rows[1:], stored["files"], stored["y_true"],
                                       stored["y_prob"]):
        assert row[0] == str(file) and row[1] == LABELS[truth] == file.split("/")[-2]
        assert row[2] == LABELS[int(np.argmax(probs))]
        assert [float(p) for p in row[3:]] == pytest.approx(probs.tolist(), abs=1e-6)
    assert not list(stats.parent.rglob("*.tmp*"))


def test_the_project_file_is_kept_as_it_was(trained):
    project, name = trained
    copy = project / "trainings" / name / "vergeml.yaml"
    assert copy.read_bytes() == (project / "vergeml.yaml").read_bytes()


def test_list_finds_per_label_metrics_by_the_original_names(trained, ml_env):
    project, name = trained
    results = read_metadata(project, name)["results"]
    listed = run_ml_process("list", "-c", "cat-precision,Tabby Cat-f1", "--output", "csv",
                            cwd=project, env=ml_env)
    assert listed.returncode == 0 and listed.stderr == ""
    rows = list(csv.reader(io.StringIO(listed.stdout)))
    assert rows[0] == ["instance", "cat_precision", "tabby_cat_f1"]
    assert rows[1][0] == name
    assert [float(v) for v in rows[1][1:]] == pytest.approx(
        [results["cat_precision"], results["tabby_cat_f1"]])
    cut = results["dog_recall"]
    above = run_ml_process("list", "dog-recall", "-gte", str(cut), "-c", "dog_recall",
                           "--output", "csv", cwd=project, env=ml_env)
    below = run_ml_process("list", "dog-recall", "-gt", str(cut), "--output", "csv",
                           cwd=project, env=ml_env)
    assert [r.split(",")[0] for r in above.stdout.splitlines()] == ["instance", name]
    assert below.stdout.splitlines() == [below.stdout.splitlines()[0]]  # header only


@pytest.mark.slow
def test_without_a_project_file_the_resolved_settings_are_written(trained, ml_env, tmp_path):
    import yaml
    from vergeml.settings.project_settings import load_project_file
    source, _ = trained
    project = tmp_path / "bare"
    shutil.copytree(source / "samples", project / "samples")
    shutil.copytree(source / "testset", project / "testset")
    result, name = train(project, ml_env, *FAST, "--test-split=testset", "--val-split=3")
    assert result.returncode == 0, result.output[-3000:]
    copy = project / "trainings" / name / "vergeml.yaml"
    assert copy.read_text().startswith("# No vergeml.yaml was used for this run")
    settings = load_project_file(copy).data  # a valid project file
    assert settings["model"] == "imagenet"
    assert settings["test-split"] == "testset" and str(settings["val-split"]) == "3"
    assert settings["train"]["epochs"] == 1 and settings["train"]["architecture"] == "mobilenet"
    assert "name" not in settings["train"]
    assert yaml.safe_load(copy.read_text())["train"]["weights"] == "none"
