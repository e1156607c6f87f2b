"""Trust at prediction time on real photos (issue 27), the ants and bees of
``../shared/data/hymenoptera``: ``ml train`` fits unknown rejection and reports
calibration; ``ml @x predict`` says ``unknown`` for digits and keeps its own test
photos; an ONNX export makes the same decisions; ``--explain`` writes heatmap PNGs."""
import json

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_ml_process
from tests.e2e.conftest import PHOTOS, read_metadata, train_on_photos
from tests.export_helpers import write_digit_samples

pytestmark = pytest.mark.e2e
NAME = "trust-tron"
SPLITS = ("--random-seed=42", "--val-split=15%", f"--test-split={PHOTOS / 'val'}")
TRAIN_ARGS = ("--architecture=mobilenet", "--alpha=0.25", "--size=224", "--epochs=20", f"--name={NAME}")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, ml_env):
    """A project over the real photos, its frozen instance, and 12 digits as unknowns."""
    project, result = train_on_photos(tmp_path_factory, ml_env, "trust", *SPLITS, "train", *TRAIN_ARGS)
    assert result.returncode == 0, result.output[-3000:]
    write_digit_samples(project / "digits", classes=(0, 3, 7), per_class=4)
    return project, result


def _own_photos():
    """30 of the test photos (val/): of the model's own classes, never trained on."""
    return [str(p) for label in ("ants", "bees") for p in sorted((PHOTOS / "val" / label).iterdir())[:15]]


def _digits(project):
    return sorted(str(p) for p in (project / "digits").rglob("*.png"))


def _unknown(project, ml_env, files, *extra):
    """path -> unknown, from ``predict --format=json``."""
    result = run_ml_process(f"@{NAME}", "predict", "--format=json", *extra, *files, cwd=project, env=ml_env)
    assert result.returncode == 0, result.output[-3000:]
    records = json.loads(result.stdout)
    assert all({"unknown", "ood_score", "threshold"} <= set(r) for r in records), records[0]
    return {r["path"]: r["unknown"] for r in records}


def test_training_fits_rejection_and_reports_calibration(trained):
    project, result = trained
    results = read_metadata(project, NAME)["results"]
    assert 0.0 <= results["test_ece"] < 0.2, results
    assert results["test_rejected"] <= 0.06 and results["reject_threshold"] > 0, results
    assert results["temperature"] > 0
    assert (project / "trainings" / NAME / "ood.npz").is_file()
    assert "Unknown rejection: cosine distance to the 2 nearest training images" in result.stdout
    assert "ece " in result.stdout


def test_digits_are_unknown_and_its_own_photos_are_not(trained, ml_env):
    project, _ = trained
    digits = _unknown(project, ml_env, _digits(project))
    own = _unknown(project, ml_env, _own_photos())
    assert all(digits.values()), digits
    assert sum(own.values()) <= 3, own  # at most 10% of its own kind rejected
    text = run_ml_process(f"@{NAME}", "predict", "--labels=1", _digits(project)[0], cwd=project, env=ml_env)
    assert text.stdout.splitlines()[1].startswith("unknown: unlike the training images (score ")
    off = run_ml_process(f"@{NAME}", "predict", "--reject=off", "--format=json", _digits(project)[0],
                         cwd=project, env=ml_env)
    assert "unknown" not in json.loads(off.stdout)[0]


def test_an_onnx_export_makes_the_same_decisions(trained, ml_env):
    project, _ = trained
    exported = run_ml_process(f"@{NAME}", "export", "--format=onnx", cwd=project, env=ml_env)
    assert exported.returncode == 0, exported.output[-3000:]
    files = _digits(project)[:4] + _own_photos()[:8]
    assert _unknown(project, ml_env, files, "--export=onnx") == _unknown(project, ml_env, files)


def test_explain_writes_heatmaps_that_load_and_differ_from_the_input(trained, ml_env, tmp_path):
    project, _ = trained
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
