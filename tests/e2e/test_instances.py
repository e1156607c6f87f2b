"""Instance status against real processes: a dead (reaped) pid and a zombie are crashed."""
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vergeml.instances import read_instance

from tests.unit.instance_helpers import new, stored

pytestmark = pytest.mark.e2e


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: the pid no longer exists
    return proc.pid


def test_dead_pid_is_crashed(tmp_path):
    inst = new(tmp_path)
    inst.metadata["pid"] = dead_pid()
    inst.save()
    assert read_instance(inst.path).status == "crashed"
    assert stored(inst)["status"] == "running"  # derived, never written


def test_other_host_stays_running(tmp_path):
    inst = new(tmp_path)
    inst.metadata.update(pid=dead_pid(), host="some-other-host")
    assert inst.status == "running"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_zombie_is_crashed(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.time() + 10
    while time.time() < deadline:  # wait until it exited but is not reaped
        state = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "Z":
            break
        time.sleep(0.02)
    inst = new(tmp_path)
    inst.metadata["pid"] = proc.pid
    try:
        assert inst.status == "crashed"
    finally:
        proc.wait()
