"""The new help and project-file paths in a fresh interpreter: light imports, one error.

``ml``, ``ml help`` (of a command, an operation or a source), ``ml --help``,
``ml help -a``, ``ml help --cache``, ``ml new`` and ``ml list`` with a
``device:`` mapping import neither TensorFlow nor NumPy, Pillow or tqdm, and
``ml help <command>`` no plugin module but that command's; a located error is one
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
    ([], 0), (["help", "train"], 0), (["--help"], 0), (["help", "list"], 0),
    (["help", "resize"], 0), (["help", "flip-horizontal"], 0), (["help", "crop"], 0),
    (["help", "image"], 0), (["ls"], 0),
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
    # "or auto": learning-rate's default is auto since issue 14 (the original's was 0.0001).
    assert err.splitlines() == ['Error: vergeml.yaml:3:18: train.learning-rate: expected a number > 0 '
                                'or auto, got "fast"',
                                "  learning-rate: fast",
                                "                 ^"]


# What `ml help train` (a model command) must not import: the other commands' modules
# and what they run. Plugin names come from entry-point metadata, not imports.
NOT_FOR_HELP_TRAIN = ("vergeml.commands.list", "vergeml.commands.plot", "vergeml.commands.run",
                      "vergeml.commands.download", "vergeml.commands.new",
                      "vergeml.commands.preprocess", "vergeml.instances", "vergeml.data.operations",
                      "vergeml.data.sources", "vergeml.plots", "vergeml.services", "yaml",
                      "importlib.metadata")
ONLY_THE_PAGE = GUARD.replace("heavy = sorted(", "absent = {absent!r}\n"
                              "heavy = sorted(m for m in absent if m in sys.modules) + sorted(")


@pytest.mark.parametrize("argv", [["help", "train"], ["help", "predict"], ["train", "--help"]])
def test_help_of_one_command_imports_only_that_command(tmp_path, argv):
    code = ONLY_THE_PAGE.format(repo=str(REPO), argv=argv, heavy=HEAVY, absent=NOT_FOR_HELP_TRAIN)
    assert "absent = " in code
    proc = run_python(code, tmp_path)
    assert "HEAVY IMPORTS" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr
