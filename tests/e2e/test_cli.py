"""The real ``ml`` program in a subprocess: what a user sees (exit codes, messages,
tracebacks only with VERGEML_DEBUG), and the shared fixtures of tests/conftest.py."""
import subprocess
import sys
import textwrap

import pytest

from vergeml import __version__

from tests.conftest import subprocess_env

pytestmark = pytest.mark.e2e


# -- the real program, in a subprocess ----------------------------------------------

def test_subprocess_version_and_help(run_ml, tmp_path):
    code, out, err = run_ml("--version", cwd=tmp_path)
    assert code == 0 and out.startswith(f"VergeML {__version__}\n")
    code, out, err = run_ml("--help", cwd=tmp_path)
    assert code == 0 and out.startswith("Usage: ml ") and "Traceback" not in err


def test_subprocess_did_you_mean_learning_rate(run_ml, project):
    code, out, err = run_ml("train", "--learning_rat=1", cwd=project)
    assert code == 2
    assert "did you mean '--learning-rate'" in err.lower()
    assert "Traceback" not in err and out == ""
    code, out, err = run_ml("trian", cwd=project)
    assert code == 2 and "Did you mean 'train'?" in err


@pytest.mark.parametrize("argv", [
    ["train", "--epochs=0"], ["trian"], ["train", "--learning_rat=1"], ["--model=nope", "help"],
    ["train", "--epochs"], ["new"],
])
def test_subprocess_user_errors_have_no_traceback(run_ml, make_project, argv):
    folder = make_project("model: imagenet\ntrain:\n  dropout: 2\n")
    code, out, err = run_ml(*argv, cwd=folder)
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith("Error: ") or "\nError: " in err


def test_subprocess_located_error(run_ml, make_project):
    folder = make_project("model: imagenet\n\ntrain:\n  learning-rate: fast\n")
    code, out, err = run_ml("train", cwd=folder)
    assert code == 2
    # "or auto": learning-rate's default is auto since issue 14 (the original's was 0.0001).
    assert ('Error: vergeml.yaml:4:18: train.learning-rate: expected a number > 0 or auto, got "fast"\n'
            "  learning-rate: fast\n"
            + " " * 17 + "^\n") in err
    assert "Traceback" not in err


FAILING_TRAIN = textwrap.dedent("""
    import sys
    from vergeml.errors import VergeMLError
    from vergeml.models.imagenet.commands import TrainCommand
    def run(self, args, env):
        raise {error}
    TrainCommand.run = run
    from vergeml.cli.main import main
    sys.exit(main(["train"]))
""")


@pytest.mark.parametrize("error, code", [("VergeMLError('disk full')", 1), ("KeyError('x')", 1)])
def test_subprocess_runtime_failure_and_debug_traceback(project, error, code):
    script = FAILING_TRAIN.format(error=error)
    quiet = subprocess.run([sys.executable, "-c", script], cwd=project, env=subprocess_env(),
                           capture_output=True, text=True, timeout=60)
    assert quiet.returncode == code
    assert "Error: " in quiet.stderr and "Traceback" not in quiet.stderr
    loud = subprocess.run([sys.executable, "-c", script], cwd=project,
                          env=subprocess_env({"VERGEML_DEBUG": "1"}),
                          capture_output=True, text=True, timeout=60)
    assert loud.returncode == 1
    assert "Traceback (most recent call last)" in loud.stderr


def test_subprocess_debug_shows_traceback_for_user_error(run_ml, project):
    code, out, err = run_ml("trian", cwd=project, env={"VERGEML_DEBUG": "1"})
    assert code == 1  # an uncaught exception, not the usage-error exit 2
    assert "Traceback (most recent call last)" in err
    assert "UsageError" in err


# -- the shared fixtures of tests/conftest.py ---------------------------------------

def test_shared_fixtures(keras_home, run_ml, make_project):
    from tests.conftest import MOBILENET_WEIGHTS, WEIGHTS_DIR
    weights = keras_home / "models" / MOBILENET_WEIGHTS
    assert weights.stat().st_size == (WEIGHTS_DIR / MOBILENET_WEIGHTS).stat().st_size
    bare = make_project(None, name="bare")
    assert (bare / "samples").is_dir() and not (bare / "vergeml.yaml").exists()
    seen = subprocess.run([sys.executable, "-c", "import os; print(os.environ['KERAS_HOME'])"],
                          env=subprocess_env(), capture_output=True, text=True, timeout=60)
    assert seen.stdout.strip() == str(keras_home)
    result = run_ml("--version", cwd=bare, env={"COLUMNS": None})
    assert result.returncode == 0 and result.output.startswith("VergeML")
