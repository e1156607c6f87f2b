"""``ml [@name] run:tensorboard`` with real TensorBoard logs: log discovery, the
command line, the not-installed message, and a live TensorBoard."""
import json
import socket
import subprocess
import time
import urllib.request

import pytest

from vergeml.commands.run import TensorboardService
from vergeml.services import tensorboard as tb
from vergeml.errors import UsageError, VergeMLError

from tests.conftest import default_signals
from tests.unit.tensorboard_helpers import environment, make_run


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url):
    with urllib.request.urlopen(url, timeout=3) as response:
        return response.status, json.loads(response.read() or b"null")


def test_log_dirs_and_command_line(tmp_path):
    trainings = tmp_path / "trainings"
    with pytest.raises(VergeMLError, match="no trainings with TensorBoard logs"):
        tb.log_dirs(environment(tmp_path))
    make_run(trainings, "alpha-tron")
    make_run(trainings, "beta-tron")
    make_run(trainings, "empty-tron", scalars=False)
    pairs = tb.log_dirs(environment(tmp_path))
    assert [name for name, _ in pairs] == ["alpha-tron", "beta-tron"]
    command = tb.tensorboard_command(pairs, "127.0.0.1", 6007)
    spec = command[command.index("--logdir_spec") + 1]
    assert spec == ",".join(f"{n}:{trainings / n / 'tensorboard'}" for n in ("alpha-tron", "beta-tron"))
    assert command[-4:] == ["--host", "127.0.0.1", "--port", "6007"]
    with pytest.raises(VergeMLError, match="@empty-tron has no TensorBoard logs"):
        tb.log_dirs(environment(tmp_path, "empty-tron"))
    with pytest.raises(UsageError, match="unknown instance @alpha-tro"):
        tb.log_dirs(environment(tmp_path, "alpha-tro"))
    single = tb.tensorboard_command(tb.log_dirs(environment(tmp_path, "beta-tron")))
    assert single[single.index("--logdir") + 1] == str(trainings / "beta-tron" / "tensorboard")


def test_not_installed_message(tmp_path, monkeypatch):
    make_run(tmp_path / "trainings", "alpha-tron")
    monkeypatch.setattr(tb.sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setattr(tb.importlib.util, "find_spec", lambda name, *a: None)
    monkeypatch.setattr(tb.shutil, "which", lambda name, *a, **k: None)
    args = TensorboardService().option_set().resolve({"no-browser": "true"}, None)
    with pytest.raises(VergeMLError, match="TensorBoard is not installed") as info:
        TensorboardService().run(args, environment(tmp_path))
    assert "pip install tensorboard" in info.value.hint


def test_live_tensorboard_serves_the_scalars(tmp_path):
    make_run(tmp_path / "trainings", "alpha-tron")
    port = free_port()
    pairs = tb.log_dirs(environment(tmp_path, "alpha-tron"))
    log = open(tmp_path / "tensorboard.log", "w")
    process = tb.start(pairs, "127.0.0.1", port, stdout=log, stderr=subprocess.STDOUT,
                       preexec_fn=default_signals)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline, runs = time.monotonic() + 60, None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status, runs = get_json(f"{base}/data/runs")
                if status == 200 and runs:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert runs == ["train"], (tmp_path / "tensorboard.log").read_text()[-2000:]
        with urllib.request.urlopen(base + "/", timeout=5) as response:
            assert response.status == 200
        status, tags = get_json(f"{base}/data/plugin/scalars/tags")
        assert "epoch_loss" in tags["train"]
    finally:
        tb.stop(process, timeout=10)
        log.close()
    assert process.poll() is not None
