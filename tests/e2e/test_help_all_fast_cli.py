"""The new help and project-file paths in a fresh interpreter: light imports, one error.

``ml help -a``, ``ml help --cache`` and ``ml list`` with a ``device:`` mapping
import neither TensorFlow nor NumPy, Pillow or tqdm; a located error is one
``Error:`` line plus the excerpt, without a traceback.
"""
import pytest

from tests.conftest import REPO
from tests.e2e.test_fast_cli import GUARD, run_python

pytestmark = pytest.mark.e2e

HEAVY = ("tensorflow", "keras", "numpy", "PIL", "tqdm")
PROJECT = "model: imagenet\ndevice: {id: cpu, memory: 50%, grow-memory: true}\n"


@pytest.mark.parametrize("argv, code", [
    (["help", "-a"], 0), (["help", "--all"], 0), (["help", "--cache"], 0), (["help", "-m"], 0),
    (["list"], 0), (["help"], 0), (["new", "fresh"], 0), (["--invalid", "opt"], 2),
])
def test_new_help_paths_stay_light(make_project, argv, code):
    proc = run_python(GUARD.format(repo=str(REPO), argv=argv, heavy=HEAVY), make_project(PROJECT))
    assert "HEAVY IMPORTS" not in proc.stderr, proc.stderr
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_located_error_in_a_subprocess(run_ml, make_project):
    folder = make_project("model: imagenet\ntrain:\n  learning-rate: fast\n")
    code, out, err = run_ml("train", cwd=folder)
    assert code == 2 and out == ""
    assert err.splitlines() == ['Error: vergeml.yaml:3:18: train.learning-rate: expected a number > 0, '
                                'got "fast"',
                                "  learning-rate: fast",
                                "                 ^"]
