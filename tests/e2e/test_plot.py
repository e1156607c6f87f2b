"""``ml @name plot`` in a subprocess: the error without a plot type, and plot:roc end to end."""
import re
import subprocess
import sys

import pytest

from vergeml.errors import UsageError, VergeMLError

from tests.unit.plot_helpers import DIGITS, make_predictions, plot, trainings
# (trainings: a fixture)

pytestmark = pytest.mark.e2e


def test_errors(tmp_path, trainings, capsys):
    make_predictions(trainings, "ten-tron", DIGITS)
    with pytest.raises(UsageError, match=r"unknown class: 33\. Did you mean '3'"):
        plot(tmp_path, capsys, "pr", "ten-tron", **{"class": "33"})
    (trainings / "ten-tron" / "stats" / "test_predictions.npz").unlink()
    with pytest.raises(VergeMLError, match=r"@ten-tron has no test predictions \(was it cancelled"):
        plot(tmp_path, capsys, "confusion-matrix", "ten-tron")
    done = subprocess.run([sys.executable, "-m", "vergeml", "@ten-tron", "plot"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "use one of plot:confusion-matrix, plot:pr, plot:roc" in done.stderr


def test_cli_end_to_end(tmp_path, trainings):
    make_predictions(trainings, "ten-tron", DIGITS)
    done = subprocess.run([sys.executable, "-m", "vergeml", "@ten-tron", "plot:roc"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "trainings/ten-tron/plots/roc.png"
    assert re.match(r"AUC \d\.\d{3}", done.stdout.splitlines()[1])
