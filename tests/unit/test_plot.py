"""``ml @name plot:roc|pr|confusion-matrix`` on fabricated test predictions (the real
``ml plot`` in a subprocess is in tests/e2e/test_plot.py)."""
import re

import numpy as np
import pytest
import yaml
from PIL import Image

from vergeml.errors import VergeMLError
from vergeml.plots.plot_commands import ConfusionMatrixPlot

from tests.unit.plot_helpers import DIGITS, make_predictions, plot, trainings
# (trainings: a fixture)


def headline(lines, metric):
    return float(re.match(rf"{metric} (\d\.\d+)", lines[1]).group(1))


def check_png(path, size):
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == size
        img.verify()


def test_roc_ten_classes_auc_matches_sklearn(tmp_path, trainings, capsys):
    from sklearn.metrics import roc_auc_score
    y_true, y_prob = make_predictions(trainings, "ten-tron", DIGITS)
    lines, _ = plot(tmp_path, capsys, "roc", "ten-tron")
    assert lines[0] == "trainings/ten-tron/plots/roc.png"
    expected = roc_auc_score(y_true, y_prob, multi_class="ovr")
    assert 0.6 < expected < 0.99
    assert headline(lines, "AUC") == round(expected, 3)
    check_png(trainings / "ten-tron" / "plots" / "roc.png", (800, 600))


def test_roc_binary_plots_the_positive_class(tmp_path, trainings, capsys):
    from sklearn.metrics import roc_auc_score
    y_true, y_prob = make_predictions(trainings, "bin-tron", ["cat", "dog"], samples=80)
    lines, _ = plot(tmp_path, capsys, "roc", "bin-tron")
    assert headline(lines, "AUC") == round(roc_auc_score(y_true, y_prob[:, 1]), 3)
    assert "positive class dog" in lines[1]
    check_png(trainings / "bin-tron" / "plots" / "roc.png", (800, 600))


def test_roc_one_class_and_output_path(tmp_path, trainings, capsys):
    from sklearn.metrics import roc_auc_score
    y_true, y_prob = make_predictions(trainings, "ten-tron", DIGITS)
    out = tmp_path / "charts" / "three.png"
    lines, _ = plot(tmp_path, capsys, "roc", "ten-tron", **{"class": "3", "output": str(out)})
    assert lines[0] == "charts/three.png"
    assert headline(lines, "AUC") == round(roc_auc_score(y_true == 3, y_prob[:, 3]), 3)
    check_png(out, (800, 600))


def test_pr_average_precision_matches_sklearn(tmp_path, trainings, capsys):
    from sklearn.metrics import average_precision_score
    y_true, y_prob = make_predictions(trainings, "ten-tron", DIGITS)
    lines, _ = plot(tmp_path, capsys, "pr", "ten-tron")
    expected = average_precision_score(np.eye(10)[y_true], y_prob, average="macro")
    assert headline(lines, "AP") == round(expected, 3)
    check_png(trainings / "ten-tron" / "plots" / "pr.png", (800, 600))
    make_predictions(trainings, "bin-tron", ["cat", "dog"], samples=80)
    lines, _ = plot(tmp_path, capsys, "pr", "bin-tron")
    assert lines[1].startswith("AP ")


def test_confusion_matrix_accuracy(tmp_path, trainings, capsys):
    y_true, y_prob = make_predictions(trainings, "ten-tron", DIGITS)
    accuracy = float((y_prob.argmax(axis=1) == y_true).mean())
    lines, _ = plot(tmp_path, capsys, "confusion-matrix", "ten-tron", normalize="true")
    assert lines == ["trainings/ten-tron/plots/confusion-matrix.png", f"accuracy {accuracy:.3f}"]
    check_png(trainings / "ten-tron" / "plots" / "confusion-matrix.png", (800, 700))
    assert ConfusionMatrixPlot().option_set().get("normalize").short == "n"


def test_class_missing_from_test_split_is_left_out(tmp_path, trainings, capsys):
    make_predictions(trainings, "gap-tron", DIGITS, drop_class=4)
    lines, err = plot(tmp_path, capsys, "roc", "gap-tron")
    assert lines[1].startswith("AUC ") and "class 4" in err


def test_run_without_a_test_split_says_so(tmp_path, trainings, capsys):
    make_predictions(trainings, "nosplit-tron", DIGITS)
    folder = trainings / "nosplit-tron"
    (folder / "stats" / "test_predictions.npz").unlink()
    meta = yaml.safe_load((folder / "data.yaml").read_text())
    meta["data"] = {"num_train": 180, "num_val": 20, "num_test": 0}
    (folder / "data.yaml").write_text(yaml.safe_dump(meta))
    with pytest.raises(VergeMLError, match="trained without a test split") as info:
        plot(tmp_path, capsys, "roc", "nosplit-tron")
    assert "--test-split" in info.value.hint
