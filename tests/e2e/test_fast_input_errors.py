"""Bad input is reported before TensorFlow is imported: `predict` with a missing file,
`preprocess` of an empty split."""
import subprocess
import sys

import pytest
import yaml
from PIL import Image

from tests.conftest import subprocess_env

pytestmark = pytest.mark.e2e


def ml_importtime(*args, cwd):
    """Run `python -X importtime -m vergeml *args`: (returncode, stderr lines, imported modules)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "vergeml", *args], cwd=cwd,
                          env=subprocess_env(), capture_output=True, text=True, timeout=120)
    lines = proc.stderr.splitlines()
    imported = {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")}
    messages = [line for line in lines if not line.startswith("import time:")]
    return proc.returncode, proc.stdout, messages, imported


def heavy(imported):
    return sorted(m for m in imported if m.split(".")[0] in ("tensorflow", "keras"))


@pytest.fixture
def project(make_project):
    """A project with an instance whose files exist: loading it would import TensorFlow."""
    project = make_project()
    folder = project / "trainings" / "fake-tron"
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "data.yaml").write_text(yaml.safe_dump(
        {"name": "fake-tron", "model": "imagenet", "status": "finished",
         "hyperparameters": {"architecture": "mobilenet", "size": 32}}))
    (folder / "checkpoints" / "labels.txt").write_text("a\nb\n")
    (folder / "checkpoints" / "model.keras").write_bytes(b"not loaded before the inputs are checked")
    return project


def test_predict_of_a_missing_file_says_so_without_importing_tensorflow(project):
    code, out, messages, imported = ml_importtime("@fake-tron", "predict", "missing.jpg",
                                                  cwd=project)
    assert messages == ["missing.jpg: No such file or directory"]
    assert code == 1 and out == ""
    assert "vergeml.commands.predict" in imported  # the measurement saw the command run
    assert heavy(imported) == []


def test_predict_of_non_images_only_fails_before_tensorflow(project):
    (project / "notes.txt").write_text("hello")
    code, _, messages, imported = ml_importtime("@fake-tron", "predict", "notes.txt", cwd=project)
    assert code == 1 and messages == ["notes.txt: not an image or unsupported format"]
    assert heavy(imported) == []


@pytest.mark.parametrize("split", ["val", "test"])
def test_preprocess_of_an_empty_split_says_there_is_nothing_to_write(make_project, split):
    project = make_project(f"model: imagenet\n{split}-split: 0\n")
    for label in ("a", "b"):
        (project / "samples" / label).mkdir()
        for i in range(4):
            Image.new("RGB", (8, 8), (60 * i, 10 if label == "a" else 200, 0)).save(
                project / "samples" / label / f"{i}.png")
    code, out, messages, imported = ml_importtime("preprocess", "out", f"--split={split}",
                                                  cwd=project)
    assert messages == [f"Error: nothing to write: the {split} split is empty"]
    assert code == 1 and out == ""
    assert not (project / "out").exists()
    assert heavy(imported) == []
