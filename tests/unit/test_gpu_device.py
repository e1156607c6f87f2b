"""The device rules of ``device:`` without a GPU: which card TensorFlow is shown, the memory
cap a percentage gives, and what is applied to (and said about) the devices TensorFlow
reports, through a fake ``tf`` that records the calls."""
import subprocess
from types import SimpleNamespace

import pytest

from vergeml.runtimes import gpu_device
from vergeml.settings.project_settings import DEVICE_OPTIONS


class FakeTf:
    """The part of ``tensorflow.config`` the rules use, recording what is set."""

    def __init__(self, gpus=(), name="NVIDIA A10G", initialised=False):
        self.calls = []
        gpus = list(gpus)

        def growth(gpu, on):
            if initialised:
                raise RuntimeError("Physical devices cannot be modified after being initialized")
            self.calls.append(("growth", gpu, on))

        def logical(gpu, configs):
            if initialised:
                raise RuntimeError("Virtual devices cannot be modified after being initialized")
            self.calls.append(("limit", gpu, configs[0].memory_limit))
        self.config = SimpleNamespace(
            list_physical_devices=lambda kind: gpus if kind == "GPU" else [],
            set_logical_device_configuration=logical,
            LogicalDeviceConfiguration=lambda memory_limit: SimpleNamespace(memory_limit=memory_limit),
            experimental=SimpleNamespace(set_memory_growth=growth,
                                         get_device_details=lambda gpu: {"device_name": name}))


def settings(**values):
    return {"id": "auto", "memory": "auto", "grow-memory": True, **values}


@pytest.mark.parametrize("device, shown", [
    ("cpu", "-1"), ("gpu", "0"), ("gpu:1", "1"), ("gpu:12", "12"), ("auto", None)])
def test_visible_devices(device, shown):
    assert gpu_device.visible_devices(device) == shown


@pytest.mark.parametrize("device, environ, index", [
    ("gpu:1", {}, 1), ("gpu:3", {"CUDA_VISIBLE_DEVICES": "0"}, 3), ("auto", {}, 0),
    ("gpu", {"CUDA_VISIBLE_DEVICES": "2,3"}, 2), ("auto", {"CUDA_VISIBLE_DEVICES": "GPU-1a2b"}, None)])
def test_physical_index_is_the_card_nvidia_smi_knows(device, environ, index):
    assert gpu_device.physical_index(device, environ) == index


@pytest.mark.parametrize("memory, total, limit", [
    ("50%", 24576, 12288), ("80%", 16000, 12800), ("1%", 50, 1), ("100%", 24576, None),
    ("auto", 24576, None), ("50%", None, None)])
def test_memory_limit(memory, total, limit):
    assert gpu_device.memory_limit_mb(memory, total) == limit


def test_the_documented_mapping_validates():
    """``device: {id: gpu:1, memory: 50%}`` as docs/gpu.md shows it."""
    values = DEVICE_OPTIONS.resolve({}, {"id": "gpu:1", "memory": "50%"}, where="device")
    assert values["id"] == "gpu:1" and values["memory"] == "50%" and values["grow-memory"] is True


def test_a_cap_is_set_on_the_visible_card_instead_of_growth():
    tf = FakeTf(gpus=["GPU:0"])
    limit = gpu_device.configure(tf, settings(id="gpu:1", memory="50%"), total_mb=24576)
    assert limit == 12288 and tf.calls == [("limit", "GPU:0", 12288)]


def test_without_a_cap_memory_grows_on_every_card():
    tf = FakeTf(gpus=["GPU:0", "GPU:1"])
    assert gpu_device.configure(tf, settings()) is None
    assert tf.calls == [("growth", "GPU:0", True), ("growth", "GPU:1", True)]


def test_grow_memory_false_leaves_the_devices_alone():
    tf = FakeTf(gpus=["GPU:0"])
    assert gpu_device.configure(tf, settings(**{"grow-memory": False})) is None
    assert tf.calls == []


def test_no_gpu_means_nothing_to_configure():
    tf = FakeTf()
    assert gpu_device.configure(tf, settings(memory="50%"), total_mb=8000) is None
    assert tf.calls == []


def test_devices_already_initialised_are_kept():
    tf = FakeTf(gpus=["GPU:0"], initialised=True)
    assert gpu_device.configure(tf, settings(memory="50%"), total_mb=8000) is None


def test_an_unknown_card_memory_warns_and_sets_no_cap(monkeypatch, capsys):
    monkeypatch.setattr(gpu_device.shutil, "which", lambda name: None)
    tf = FakeTf(gpus=["GPU:0"])
    assert gpu_device.configure(tf, settings(memory="50%")) is None
    assert "no cap set" in capsys.readouterr().err
    assert tf.calls == [("growth", "GPU:0", True)]


def test_card_memory_from_nvidia_smi(monkeypatch):
    seen = {}

    def run(argv, **kwargs):
        seen["argv"] = argv
        return SimpleNamespace(stdout="24576\n")
    monkeypatch.setattr(gpu_device.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(gpu_device.subprocess, "run", run)
    assert gpu_device.card_memory_mb(1) == 24576
    assert "--id=1" in seen["argv"]


def test_a_failing_nvidia_smi_is_unknown_memory(monkeypatch):
    def run(argv, **kwargs):
        raise subprocess.TimeoutExpired(argv, kwargs.get("timeout"))
    monkeypatch.setattr(gpu_device.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    monkeypatch.setattr(gpu_device.subprocess, "run", run)
    assert gpu_device.card_memory_mb(0) is None


@pytest.mark.parametrize("gpus, device, limit, line", [
    ([], settings(id="cpu"), None, "Device: CPU (as asked)"),
    ([], settings(), None, "Device: CPU (TensorFlow sees no GPU)"),
    (["GPU:0"], settings(id="gpu:1"), 12288, "Device: GPU 1 (NVIDIA A10G), memory capped at 12,288 MB"),
    (["GPU:0"], settings(), None, "Device: GPU 0 (NVIDIA A10G)"),
])
def test_the_line_ml_train_prints(gpus, device, limit, line):
    assert gpu_device.describe(FakeTf(gpus=gpus), device, limit) == line
