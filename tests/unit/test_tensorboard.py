"""``ml [@name] run:tensorboard`` without TensorFlow: broken instances and stopping the
child (real logs and a live TensorBoard are in tests/integration/test_tensorboard.py)."""
import pytest

from vergeml.commands.run import TensorboardService
from vergeml.services import tensorboard as tb

from tests.unit.tensorboard_helpers import environment, make_run


def test_broken_instance_with_logs_is_shown_without_a_warning(tmp_path, capsys):
    folder = make_run(tmp_path / "trainings", "odd-tron", scalars=False)
    (folder / "tensorboard" / "events.out.tfevents.1").write_bytes(b"")
    (folder / "data.yaml").write_text("status: [")
    assert [name for name, _ in tb.log_dirs(environment(tmp_path))] == ["odd-tron"]
    assert capsys.readouterr().err == ""


def test_tensorboard_is_stopped_when_waiting_fails(tmp_path, monkeypatch):
    """Whatever ends the wait (Ctrl-C, SIGTERM, an error), the child is stopped."""
    make_run(tmp_path / "trainings", "alpha-tron", scalars=False)
    (tmp_path / "trainings" / "alpha-tron" / "tensorboard" / "events.out.x").write_bytes(b"")

    class Child:
        stopped = False

        def wait(self):
            raise RuntimeError("boom")

    child = Child()
    monkeypatch.setattr(tb, "start", lambda *args, **kwargs: child)
    monkeypatch.setattr(tb, "stop", lambda process: setattr(process, "stopped", True))
    monkeypatch.setattr(tb, "stop_on_sigterm", lambda: None)
    args = {"host": "127.0.0.1", "port": 6006, "no-browser": True}
    with pytest.raises(RuntimeError, match="boom"):
        TensorboardService().run(args, environment(tmp_path))
    assert child.stopped
