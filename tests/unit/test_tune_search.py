"""The bookkeeping of a search on Ray Tune, without Ray: what may vary, how many trials run at
once, what a trial's run is when Tune is done with it, and its folder's round trip."""
import pytest

from vergeml.errors import UsageError
from vergeml.models.imagenet.training.run_state import RunState
from vergeml.models.imagenet.training.tune_search import (TRIAL_MEMORY, check_search,
                                                          concurrency, trial_status)
from vergeml.models.imagenet.training.tune_trial import Collector, folder_files, write_files

GB = 1024 ** 3


@pytest.mark.parametrize("axes, base", [
    ({"learning-rate": [0.001, 0.01], "dropout": [0.0, 0.3]}, {}),
    ({"epochs": [2, 4], "layers": [1, 2], "batch-size": [32, 64]}, {"fine-tune-epochs": 0}),
])
def test_the_tops_options_may_vary(axes, base):
    check_search(axes, base)


@pytest.mark.parametrize("axes, base, message", [
    ({"architecture": ["mobilenet", "resnet-50"]}, {}, "--architecture cannot vary"),
    ({"size": [96, 128]}, {}, "--size cannot vary"),
    ({"fine-tune-epochs": [0, 5]}, {}, "--fine-tune-epochs cannot vary"),
    ({"learning-rate": [0.1, 0.01]}, {"fine-tune-epochs": 3}, "trains the top only"),
])
def test_what_a_search_on_ray_refuses(axes, base, message):
    with pytest.raises(UsageError, match=message):
        check_search(axes, base)


@pytest.mark.parametrize("trials, cpus, memory, expected", [
    (20, 16, 64 * GB, 16),              # CPUs bound it
    (20, 16, 4 * GB, 4 * GB // TRIAL_MEMORY),  # memory bounds it below the CPUs
    (3, 16, 64 * GB, 3),                # no more than there are trials
    (5, 2, 0, 1),                       # at least one
])
def test_concurrency_is_bounded_by_memory_not_only_cpus(trials, cpus, memory, expected):
    assert concurrency(trials, cpus, memory) == expected


def state(**values):
    return RunState(**values)


@pytest.mark.parametrize("error, run_state, epochs, status", [
    (None, state(epochs_done=9), 9, "finished"),
    (None, state(epochs_done=4, stopped_early=True), 9, "finished"),  # its own early stopping
    (None, state(epochs_done=3, diverged=3), 9, "finished"),           # Run.finish says diverged
    (None, state(epochs_done=2), 9, "stopped"),                        # ASHA stopped it
    (RuntimeError("boom"), state(epochs_done=2), 9, "failed"),
    (None, None, 9, "failed"),                                        # no epoch committed
])
def test_a_trials_status(error, run_state, epochs, status):
    assert trial_status(error, run_state, epochs) == status


def test_a_trial_folder_goes_to_the_driver_and_back_byte_for_byte(tmp_path):
    worker = tmp_path / "worker" / "bold-tron"
    (worker / "checkpoints").mkdir(parents=True)
    (worker / "data.yaml").write_text("name: bold-tron\n")
    (worker / "checkpoints" / "best-2.weights.h5").write_bytes(bytes(range(256)) * 10)
    (worker / "checkpoints" / ".state.json.tmp123").write_text("half written")
    collector = Collector()
    collector.put("bold-tron", folder_files(worker))
    files = collector.get("bold-tron")
    assert sorted(files) == ["checkpoints/best-2.weights.h5", "data.yaml"]
    driver = tmp_path / "trainings" / "bold-tron"
    write_files(driver, files)
    assert (driver / "data.yaml").read_text() == "name: bold-tron\n"
    assert (driver / "checkpoints" / "best-2.weights.h5").read_bytes() == bytes(range(256)) * 10
    assert collector.get("other-tron") is None


def test_a_missing_ray_tune_is_the_one_line_extra_error():
    from vergeml.errors import VergeMLError
    from vergeml.models.imagenet.training.tune_search import require_tune
    with pytest.raises(VergeMLError, match=r"a search on Ray needs the ray extra: pip install"):
        require_tune(find_spec=lambda name: None if name == "pydantic" else object())
    require_tune(find_spec=lambda name: object())
