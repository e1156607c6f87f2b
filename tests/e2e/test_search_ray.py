"""End to end: searches on Ray Tune from the CLI. A random search and an ASHA search on a
loopback cluster of two nodes (the trials' settings reach their training; the driver writes
every trial's folder; weak trials stopped and listed so), a crashed trial and Ctrl-C on the
search's own local Ray (the others go on; every trial cancelled)."""
import signal
import subprocess
import time

import pytest
import yaml

from tests.conftest import default_signals, ml_command, run_ml_process, subprocess_env
from tests.e2e.conftest import TRAIN_ARGS, digits_subset
from tests.ray_helpers import loopback_cluster

pytestmark = pytest.mark.e2e
BASE = [a for a in TRAIN_ARGS if not a.startswith(("--epochs", "--learning-rate"))]


def runs_of(project):
    """``{name: data.yaml}`` of every run."""
    return {p.name: yaml.safe_load((p / "data.yaml").read_text())
            for p in sorted((project / "trainings").iterdir()) if (p / "data.yaml").is_file()}


def test_random_search_on_a_loopback_cluster(faces_project, ml_env):
    with loopback_cluster() as address:
        result = run_ml_process("train", "--engine=ray", f"--ray-address={address}", *BASE,
                                "--search=random", "--trials=3", "--learning-rate=1e-3..1e-1",
                                "--epochs=1,3", cwd=faces_project, env=ml_env, timeout=600)
    assert result.returncode == 0, result.output[-4000:]
    assert "3 trials on Ray Tune" in result.stdout
    runs = runs_of(faces_project)
    assert len(runs) == 3 and len({r["grid"] for r in runs.values()}) == 1
    rates = set()
    for name, meta in runs.items():
        hyper, results = meta["hyperparameters"], meta["results"]
        # The trial's own settings reached its training on the worker: as many epochs
        # trained (its history, written there) as this trial was given.
        assert len(meta["history"]) == hyper["epochs"] == results["epochs_done"], name
        assert 1e-3 <= hyper["learning_rate"] <= 1e-1
        rates.add(hyper["learning_rate"])
        assert meta["status"] == "finished" and "test_acc" in results
        folder = faces_project / "trainings" / name
        assert (folder / "checkpoints" / "model.keras").stat().st_size > 100_000
        assert (folder / "stats" / "test_predictions.npz").is_file()
        assert not list(folder.rglob("*.tmp*"))
    assert len(rates) == 3
    grid = next(iter(runs.values()))["grid"]
    listed = run_ml_process("list", f"--grid={grid}", cwd=faces_project, env=ml_env)
    assert listed.returncode == 0 and "learning_rate" in listed.stdout.splitlines()[0]
    assert sum(name in listed.stdout for name in runs) == 3


@pytest.mark.slow
def test_asha_stops_weak_trials_and_lists_them_stopped(tmp_path, ml_env):
    # 30 digits a class: validation scores that differ (40 faces give 4 validation images, ties).
    project = digits_subset(tmp_path / "digits", 30)
    with loopback_cluster() as address:
        result = run_ml_process("train", *BASE, "--search=asha", f"--ray-address={address}",
                                "--trials=6", "--learning-rate=1e-6..1e-1", "--epochs=9",
                                cwd=project, env=ml_env, timeout=900)
    assert result.returncode == 0, result.output[-4000:]
    runs = runs_of(project)
    statuses = {name: meta["status"] for name, meta in runs.items()}
    stopped = [n for n, s in statuses.items() if s == "stopped"]
    assert stopped and "finished" in statuses.values(), statuses
    for name in stopped:
        results = runs[name]["results"]
        assert results["epochs_done"] < 9 and results["stopped_by"] == "asha"
        assert "test_acc" in results  # tested at its best epoch
    best = max(runs.values(), key=lambda meta: meta["results"]["val_acc"])
    assert best["status"] == "finished" and best["results"]["epochs_done"] == 9
    listed = run_ml_process("list", "status", "-eq", "stopped", cwd=project, env=ml_env)
    assert all(name in listed.stdout for name in stopped)


@pytest.mark.slow
def test_a_crashed_trial_is_failed_and_the_others_go_on(faces_project, ml_env):
    env = {**ml_env, "VERGEML_FAULT_POINT": "trial.epoch:2", "VERGEML_FAULT_ACTION": "raise"}
    result = run_ml_process("train", *BASE, "--engine=ray", "--learning-rate=0.001,0.002,0.003",
                            "--epochs=2", cwd=faces_project, env=env, timeout=900)
    assert result.returncode == 1, result.output[-4000:]
    runs = runs_of(faces_project)
    by_number = {meta["grid_run"]: meta for meta in runs.values()}
    assert by_number[2]["status"] == "failed" and "fault injected at trial.epoch:2" in (by_number[2]["error"] or "")
    assert by_number[1]["status"] == by_number[3]["status"] == "finished"
    assert "Warning: trial @" in result.stderr


@pytest.mark.slow
def test_ctrl_c_cancels_every_trial(faces_project, ml_env, tmp_path):
    log = tmp_path / "out.txt"
    with open(log, "w") as out:
        process = subprocess.Popen([*ml_command(), "train", *BASE, "--engine=ray",
                                    "--learning-rate=0.001,0.002,0.003", "--epochs=30"],
                                   cwd=faces_project, stdout=out, stderr=subprocess.STDOUT,
                                   env=subprocess_env(ml_env), preexec_fn=default_signals)
    try:
        deadline = time.monotonic() + 600
        while "epoch 1:" not in log.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()[-3000:]
            time.sleep(1)
        process.send_signal(signal.SIGINT)
        assert process.wait(300) == 130, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
    statuses = {meta["status"] for meta in runs_of(faces_project).values()}
    assert statuses == {"cancelled"}, log.read_text()[-3000:]
    assert "Cancelled: every trial stopped." in log.read_text()
