"""`ml list` against real processes and as a user runs it: a crashed run (a reaped
child's pid), and the real ``ml list`` in a subprocess, which imports no TensorFlow."""
import os
import subprocess
import sys

import pytest

from vergeml.commands.list import EMPTY_HINT

from tests.conftest import run_ml_process
from tests.unit.list_helpers import HEADER, env, make_run, run_list, runs, table
# (env, runs: fixtures)

pytestmark = pytest.mark.e2e


def test_crashed_and_broken_are_listed(env, runs, capsys, tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    make_run(tmp_path, "dead-bot", status="running", start="2030-01-01T00:00:00+00:00",
             pid=proc.pid, host=os.uname().nodename)
    (tmp_path / "trainings" / "half-bot").mkdir()
    (tmp_path / "trainings" / "half-bot" / "data.yaml").write_text("name: half-bot\nmod")
    result = run_list(env, capsys)
    rows = table(result.out)
    assert rows[1][:3] == ["dead-bot", "mobilenet", "crashed"]
    assert rows[-1][:3] == ["half-bot", "", "broken"]
    assert len(rows) == 6
    assert "half-bot" in result.err and "Traceback" not in result.err


def test_modules_do_not_import_tensorflow():
    code = ("import sys, vergeml.commands.list, vergeml.instances; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- the real command line -----------------------------------------------------------------


def ml(*args, cwd):
    """The real ``ml`` in a subprocess (the venv's script, else ``python -m vergeml``)."""
    return run_ml_process(*args, cwd=cwd, timeout=60)


def test_cli_list(runs):
    result = ml("list", cwd=runs)
    assert result.returncode == 0, result.stderr
    assert table(result.stdout)[0] == HEADER and len(table(result.stdout)) == 4


def test_cli_ls_with_options_and_filter(runs):
    result = ml("ls", "test_acc", "-gt", "0.8", "-c", "instance,test_acc", "--format", "csv",
                "-o", "asc", cwd=runs)
    assert result.returncode == 0, result.stderr
    # ascending by training_start: optimum-neuron (18:14) before nervous-tron (19:43)
    assert result.stdout.splitlines() == ["instance,test_acc", "optimum-neuron,0.914",
                                          "nervous-tron,0.8766"]


def test_cli_empty(tmp_path):
    result = ml("list", cwd=tmp_path)
    assert result.returncode == 0 and EMPTY_HINT in result.stderr + result.stdout


def test_cli_usage_errors_exit_2(runs):
    result = ml("list", "-gt", "1", cwd=runs)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("Error: filter -gt needs a key before it and a value after it")
    result = ml("list", "--order", "up", cwd=runs)
    assert result.returncode == 2 and result.stdout == ""
    assert 'Error: --order: expected one of asc, desc, got "up"' in result.stderr


def test_cli_does_not_import_tensorflow(runs):
    code = ("import sys; from vergeml.cli.main import main; rc = main(['list']); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]; "
            "assert not bad, bad; sys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", code], cwd=runs, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
