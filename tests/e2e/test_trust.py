"""Trust at prediction time on real photos (issue 27), the ants and bees of
``../shared/data/hymenoptera`` with the session's fine-tuned run (``tuned_photos``:
the score and the heatmaps work on its own, fine-tuned features): ``ml train``
fitted unknown rejection and reported calibration; ``ml @x predict`` says
``unknown`` for digits and keeps its own test photos; an ONNX export makes the
same decisions; ``--explain`` writes heatmap PNGs."""
import json

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_ml_process
from tests.e2e.conftest import PHOTOS, TUNED_NAME as NAME, read_metadata
from tests.export_helpers import write_digit_samples

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def trained(tuned_photos, tmp_path_factory):
    """``(project, result, digits)``: the fine-tuned run and 12 digit PNGs (unknowns)."""
    project, result = tuned_photos
    assert result.returncode == 0, result.output[-3000:]
    digits = tmp_path_factory.mktemp("unknowns")
    write_digit_samples(digits, classes=(0, 3, 7), per_class=4)
    return project, result, sorted(str(p) for p in digits.rglob("*.png"))


@pytest.fixture(scope="module")
def keras_decisions(trained, ml_env):
    """path -> unknown for the digits and 30 own test photos, by the Keras model."""
    project, _, digits = trained
    return _unknown(project, ml_env, digits + _own_photos())


def _own_photos():
    """30 of the test photos (val/): of the model's own classes, never trained on."""
    return [str(p) for label in ("ants", "bees") for p in sorted((PHOTOS / "val" / label).iterdir())[:15]]


def _unknown(project, ml_env, files, *extra):
    """path -> unknown, from ``predict --format=json``."""
    result = run_ml_process(f"@{NAME}", "predict", "--format=json", *extra, *files, cwd=project, env=ml_env)
    assert result.returncode == 0, result.output[-3000:]
    records = json.loads(result.stdout)
    assert all({"unknown", "ood_score", "threshold"} <= set(r) for r in records), records[0]
    return {r["path"]: r["unknown"] for r in records}


def test_training_fits_rejection_and_reports_calibration(trained):
    project, result, _ = trained
    results = read_metadata(project, NAME)["results"]
    assert 0.0 <= results["test_ece"] < 0.2, results
    assert results["test_rejected"] <= 0.06 and results["reject_threshold"] > 0, results
    assert results["temperature"] > 0
    assert (project / "trainings" / NAME / "ood.npz").is_file()
    assert "Unknown rejection: cosine distance to the 2 nearest training images" in result.stdout
    assert " ece " in result.stdout


def test_digits_are_unknown_and_its_own_photos_are_not(trained, keras_decisions, ml_env):
    project, _, digits = trained
    assert all(keras_decisions[d] for d in digits), keras_decisions
    assert sum(keras_decisions[p] for p in _own_photos()) <= 3, keras_decisions  # <= 10% of its kind
    text = run_ml_process(f"@{NAME}", "predict", "--labels=1", digits[0], cwd=project, env=ml_env)
    assert text.stdout.splitlines()[1].startswith("unknown: unlike the training images (score ")


def test_an_onnx_export_makes_the_same_decisions(trained, keras_decisions, ml_env):
    project, _, _ = trained
    exported = run_ml_process(f"@{NAME}", "export", "--format=onnx", cwd=project, env=ml_env)
    assert exported.returncode == 0, exported.output[-3000:]
    assert _unknown(project, ml_env, list(keras_decisions), "--export=onnx") == keras_decisions


def test_explain_writes_heatmaps_that_load_and_differ_from_the_input(trained, ml_env, tmp_path):
    project, _, _ = trained
    photos = _own_photos()[:2]
    result = run_ml_process(f"@{NAME}", "predict", "--explain", f"--explain-dir={tmp_path}",
                            "--format=json", *photos, cwd=project, env=ml_env)
    assert result.returncode == 0, result.output[-3000:]
    for record in json.loads(result.stdout):
        heat = np.asarray(Image.open(record["heatmap"]).convert("RGB"), dtype=np.float32)
        plain = np.asarray(Image.open(record["path"]).convert("RGB").resize((224, 224)), dtype=np.float32)
        assert heat.shape == (224, 224, 3)
        assert np.abs(heat - plain).mean() > 10  # the heat is drawn over it
        assert record["prediction"][0]["label"] in record["heatmap"]
    wrong = run_ml_process(f"@{NAME}", "predict", "--explain", "--explain-label=wasps", photos[0],
                           cwd=project, env=ml_env)
    assert wrong.returncode == 2 and "unknown label 'wasps'" in wrong.stderr
