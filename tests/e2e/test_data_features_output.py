"""A second ``ml preprocess`` in a fresh interpreter, everything cached: no TensorFlow."""
import subprocess
import sys

import pytest

from tests.unit.test_data_helpers import digits_project

pytestmark = pytest.mark.e2e


def test_rerun_imports_no_tensorflow(tmp_path, keras_home):
    """Everything cached: a second ``ml preprocess`` neither extracts nor imports TensorFlow."""
    root = digits_project(tmp_path / "p", count=12)
    (root / "vergeml.yaml").write_text(
        "data: {output: labeled-image-features}\n"
        "train: {architecture: mobilenet, alpha: 0.25, size: 96, weights: none}\n")
    script = ("import sys; from vergeml.cli.main import main; code = main(['preprocess']); "
              "print('tensorflow' in sys.modules); sys.exit(code)")
    runs = [subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                           text=True, timeout=120, env={"VERGEML_OFFLINE": "1", "PATH": "/usr/bin",
                                                         "KERAS_HOME": str(keras_home)})
            for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    assert "cache: 0 hit, 12 new" in runs[0].stdout and runs[0].stdout.endswith("True\n")
    assert "cache: 12 hit, 0 new" in runs[1].stdout and runs[1].stdout.endswith("False\n")
