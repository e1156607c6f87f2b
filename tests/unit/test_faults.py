"""The fault hook (:mod:`vergeml.faults`): matching, counting, tracing, actions."""
import os
import signal
import threading

import pytest

from vergeml import faults

VARIABLES = ("VERGEML_FAULT_POINT", "VERGEML_FAULT_ACTION", "VERGEML_FAULT_HIT",
             "VERGEML_FAULT_FILE", "VERGEML_FAULT_TRACE")


@pytest.fixture(autouse=True)
def clean_hook(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(faults, "_counts", {})


def test_unset_hook_does_nothing():
    assert not faults.active()
    faults.point("file.replace", "state.json")  # no error, no file, no action


@pytest.mark.parametrize("wanted, name, detail, expected", [
    ("file.replace", "file.replace", "state.json", True),
    ("file.replace:state.json", "file.replace", "state.json", True),
    ("file.replace:last-*.weights.h5", "file.replace", "last-3.weights.h5", True),
    ("file.replace:best-*.weights.h5", "file.replace", "last-3.weights.h5", False),
    ("top.epoch", "top.batch", None, False),
    ("top.*", "top.batch", None, True),
])
def test_matching(wanted, name, detail, expected):
    full = name if detail is None else f"{name}:{detail}"
    assert faults.matches(wanted, name, full) is expected


def test_raise_acts_on_the_nth_matching_hit_only(monkeypatch):
    monkeypatch.setenv("VERGEML_FAULT_POINT", "file.replace:*.h5")
    monkeypatch.setenv("VERGEML_FAULT_ACTION", "raise")
    monkeypatch.setenv("VERGEML_FAULT_HIT", "2")
    faults.point("file.replace", "a.h5")
    faults.point("file.replace", "state.json")  # not a match: not counted
    with pytest.raises(OSError, match="fault injected at file.replace:b.h5"):
        faults.point("file.replace", "b.h5")
    faults.point("file.replace", "c.h5")  # the third hit passes


def test_trace_records_every_point_in_order(monkeypatch, tmp_path):
    trace = tmp_path / "trace"
    monkeypatch.setenv("VERGEML_FAULT_TRACE", str(trace))
    assert faults.active()
    faults.point("extraction.batch")
    faults.point("file.replace", "data.yaml")
    assert trace.read_text().split() == ["extraction.batch", "file.replace:data.yaml"]


def test_unknown_action_is_an_error(monkeypatch):
    monkeypatch.setenv("VERGEML_FAULT_POINT", "x.y")
    monkeypatch.setenv("VERGEML_FAULT_ACTION", "explode")
    with pytest.raises(ValueError, match="explode"):
        faults.point("x.y")


def test_pause_waits_until_the_flag_is_deleted(monkeypatch, tmp_path):
    flag = tmp_path / "paused"
    monkeypatch.setenv("VERGEML_FAULT_POINT", "x.y")
    monkeypatch.setenv("VERGEML_FAULT_FILE", str(flag))
    passed = threading.Event()

    def paused():
        faults.point("x.y")
        passed.set()
    thread = threading.Thread(target=paused, daemon=True)
    thread.start()
    while not flag.exists():
        assert thread.is_alive()
        threading.Event().wait(0.01)
    assert flag.read_text() == str(os.getpid()) and not passed.is_set()
    flag.unlink()
    thread.join(timeout=10)
    assert passed.is_set()


@pytest.mark.parametrize("action, signum", [("kill", signal.SIGKILL), ("sigint", signal.SIGINT),
                                            ("sigterm", signal.SIGTERM)])
def test_kill_and_signal_actions_signal_this_process(monkeypatch, action, signum):
    sent = []
    monkeypatch.setattr(faults.os, "kill", lambda pid, sig: sent.append((pid, sig)))
    monkeypatch.setattr(faults.time, "sleep", lambda seconds: None)
    monkeypatch.setenv("VERGEML_FAULT_POINT", "x.y")
    monkeypatch.setenv("VERGEML_FAULT_ACTION", action)
    faults.point("x.y")
    assert sent == [(os.getpid(), signum)]
