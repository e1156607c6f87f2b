"""``ml preprocess`` through the real command line."""
import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.e2e

YAML = """model: imagenet
data:
  preprocess:
    - op: resize
      width: 10
      height: 10
"""


def test_preprocess_writes_images(run_ml, make_project):
    project = make_project(YAML)
    for label in ("a", "b"):
        (project / "samples" / label).mkdir()
        for i in range(5):
            pixels = np.full((20, 30, 3), i * 40, np.uint8)
            Image.fromarray(pixels).save(project / "samples" / label / f"{i}.png")
    result = run_ml("preprocess", "out", cwd=project)
    assert result.returncode == 0, result.output
    files = list((project / "out").rglob("*.png"))
    assert len(files) == 10 and Image.open(files[0]).size == (10, 10)
    assert result.stdout.startswith("Wrote 10 images")


def test_preprocess_reports_a_bad_file(run_ml, make_project):
    project = make_project(YAML)
    for label in ("a", "b"):
        (project / "samples" / label).mkdir()
        Image.new("RGB", (8, 8)).save(project / "samples" / label / "ok.png")
    (project / "samples" / "a" / "broken.jpg").write_bytes(b"nope")
    result = run_ml("preprocess", cwd=project)
    assert result.returncode == 1
    assert "a/broken.jpg" in result.stderr and "--skip-bad-files" in result.stderr
    assert run_ml("preprocess", "--skip-bad-files", cwd=project).returncode == 0
