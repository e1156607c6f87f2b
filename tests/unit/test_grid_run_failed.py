"""Issue 30 item 1: a grid run whose loss diverged fails alone; the grid goes on."""
import pytest

from vergeml.errors import RunFailed, VergeMLError
from vergeml.instances import scan_instances

from tests.unit.test_grid import OPTIONS, FakeEnv, fake_train, resolve


def diverging(train, fail_at):
    """``train`` that, for run ``fail_at`` (1-based), marks the run failed and raises RunFailed."""
    count = []

    def run(args, env, metadata=None):
        count.append(1)
        if len(count) != fail_at:
            return train(args, env, metadata)
        train(args, env, metadata)
        (instance,) = [i for i in scan_instances(env.trainings_dir)
                       if i.metadata.get("grid_run") == len(count)]
        instance.set_status("failed", error="RunFailed: loss became NaN")
        raise RunFailed("loss became NaN or infinite at epoch 1; lower --learning-rate")
    return run


def test_a_diverged_run_does_not_stop_the_grid(tmp_path, capsys):
    train, calls = fake_train([0, 0, 0], [0.5, 0.9, 0.7])
    args = resolve({"learning-rate": "1000,0.01,0.001"})
    status = run_grid_with(args, tmp_path, diverging(train, 1))
    assert status == 1  # the grid had a failed run
    assert [c["learning-rate"] for c in calls] == [1000, 0.01, 0.001]
    statuses = sorted(i.metadata["status"] for i in scan_instances(tmp_path))
    assert statuses == ["failed", "finished", "finished"]
    captured = capsys.readouterr()
    assert "Warning: grid run 1/3 failed: loss became NaN" in captured.err
    assert "done: 3 runs" in captured.out


def test_other_errors_still_stop_the_grid(tmp_path):
    def broken(args, env, metadata=None):
        raise VergeMLError("the training split is empty")
    with pytest.raises(VergeMLError, match="empty"):
        run_grid_with(resolve({"learning-rate": "0.1,0.01"}), tmp_path, broken)


def run_grid_with(args, folder, train):
    from vergeml.grid.grid_runner import run_grid
    return run_grid(args, FakeEnv(folder), train, OPTIONS)
