"""End-to-end: `ml train` with lists of values trains a grid of normal runs sharing one
feature extraction; `ml list --grid=ID` shows exactly those runs."""
import json
import re
import signal
import subprocess
import time

import pytest

from tests.conftest import default_signals, ml_command, run_ml_process, subprocess_env
from tests.e2e.conftest import instance_names, read_metadata, train
from tests.e2e.test_empty_validation import write_images

pytestmark = pytest.mark.e2e

FAST = ("--weights=none", "--architecture=mobilenet", "--alpha=0.25", "--size=32",
        "--epochs=1", "--batch-size=8")


@pytest.fixture(scope="module")
def grid_project(tmp_path_factory, ml_env):
    """A project after one 2x2 grid: (project, result of ml train)."""
    project = tmp_path_factory.mktemp("grid") / "proj"
    write_images(project, per_class=12)
    (project / "vergeml.yaml").write_text("model: imagenet\nval-split: 4\ntest-split: 4\n"
                                          "train:\n  dropout: [0.2, 0.5]\n")
    result = run_ml_process("train", *FAST, "--learning-rate=0.001,0.01", cwd=project,
                            env=ml_env, timeout=600)
    assert result.returncode == 0, result.output[-3000:]
    return project, result


def test_grid_trains_four_runs_with_one_extraction(grid_project):
    project, result = grid_project
    headers = re.findall(r"Grid (g-[0-9a-f]{6}) run (\d)/4: learning-rate=(\S+) dropout=(\S+)",
                         result.stdout)
    assert [h[1:] for h in headers] == [("1", "0.001", "0.2"), ("2", "0.01", "0.2"),
                                        ("3", "0.001", "0.5"), ("4", "0.01", "0.5")]
    summaries = re.findall(r"cache: .*", result.output)
    assert len(summaries) == 4, result.output[-3000:]
    assert summaries[0].startswith("cache: 0 hit, 24 new")
    assert all(s.startswith("cache: 24 hit, 0 new") for s in summaries[1:]), summaries
    names = instance_names(project)
    assert len(names) == 4
    grid_id = headers[0][0]
    by_run = {}
    for name in names:
        meta = read_metadata(project, name)
        assert meta["grid"] == grid_id and meta["status"] == "finished"
        by_run[meta["grid_run"]] = meta["hyperparameters"]
    assert (by_run[2]["learning_rate"], by_run[2]["dropout"]) == (0.01, 0.2)
    assert (by_run[3]["learning_rate"], by_run[3]["dropout"]) == (0.001, 0.5)
    assert "grid_random" not in by_run[1]


def test_list_grid_shows_exactly_the_grid_best_first(grid_project, ml_env):
    project, result = grid_project
    grid_id = re.search(r"Grid (g-[0-9a-f]{6}) run", result.stdout).group(1)
    listing = run_ml_process("list", f"--grid={grid_id}", "--output=json", cwd=project, env=ml_env)
    assert listing.returncode == 0, listing.output
    rows = json.loads(listing.stdout)
    assert sorted(r["instance"] for r in rows) == instance_names(project)
    assert {r["grid"] for r in rows} == {grid_id}
    assert {"learning_rate", "dropout", "test_acc"} <= set(rows[0])
    accs = [r["test_acc"] for r in rows]
    assert accs == sorted(accs, reverse=True)
    table = run_ml_process("list", f"--grid={grid_id}", cwd=project, env=ml_env)
    assert "| grid" in table.stdout and f"Best: @{rows[0]['instance']}" in table.stderr
    unknown = run_ml_process("list", "--grid=g-000000", cwd=project, env=ml_env)
    assert unknown.returncode == 2 and unknown.stderr.startswith("Error: no runs of grid")


def test_option_that_cannot_take_a_list_is_a_one_line_error(grid_project, ml_env):
    project, _ = grid_project
    for args, message in ((("--name=a,b",), "Error: --name: cannot take a list of values"),
                          (("--name=bot", "--epochs=1,2"), "Error: --name cannot be used with "
                                                           "a grid")):
        result = run_ml_process("train", *FAST, *args, cwd=project, env=ml_env)
        assert result.returncode == 2, result.output
        assert result.stderr.splitlines()[0].startswith(message), result.stderr
        assert "Traceback" not in result.stderr
    assert len(instance_names(project)) == 4


@pytest.mark.slow
def test_one_value_grid_is_a_normal_run(tmp_path, ml_env):
    project = tmp_path / "single"
    write_images(project, per_class=8)
    (project / "vergeml.yaml").write_text("model: imagenet\nval-split: 2\ntest-split: 2\n")
    result, name = train(project, ml_env, *FAST, "--learning-rate=0.01", "--dropout=0.2")
    assert result.returncode == 0, result.output[-3000:]
    assert "Grid" not in result.output
    meta = read_metadata(project, name)
    assert "grid" not in meta and meta["hyperparameters"]["learning_rate"] == 0.01


@pytest.mark.slow
def test_ctrl_c_cancels_the_current_run_and_stops_the_grid(tmp_path, ml_env):
    project = tmp_path / "interrupted"
    write_images(project, per_class=8)
    (project / "vergeml.yaml").write_text("model: imagenet\nval-split: 2\ntest-split: 2\n")
    args = [a for a in FAST if not a.startswith("--epochs")]
    proc = subprocess.Popen(ml_command() + ["train", *args, "--epochs=5000", "--early-stopping-patience=0",
                                            "--dropout=0.1,0.2"],
                            cwd=project, env=subprocess_env(ml_env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not _epochs_done(project):
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err and "run 2/2" not in out
    (name,) = instance_names(project)
    meta = read_metadata(project, name)
    assert meta["status"] == "cancelled" and meta["grid_run"] == 1 and meta["grid"]


def _epochs_done(project):
    names = instance_names(project)
    try:
        return bool(names) and read_metadata(project, names[0])["results"].get("epochs_done", 0) >= 1
    except (OSError, TypeError, KeyError, AttributeError):
        return False
