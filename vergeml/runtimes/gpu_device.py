"""Which device TensorFlow runs on, and how much of a GPU's memory it may take.

The ``device:`` settings (``--device``, ``device: {id: gpu:1, memory: 50%,
grow-memory: true}``) become, before TensorFlow is imported:

- ``id``: ``cpu`` hides every GPU; ``gpu:N`` shows TensorFlow only card N
  (``CUDA_VISIBLE_DEVICES``, so inside TensorFlow it is GPU 0); ``auto`` and
  ``gpu`` leave the choice to TensorFlow (its first GPU, if any).
- ``memory``: a percentage caps the memory TensorFlow may allocate on the card
  (a logical device with a memory limit, of the card's total as ``nvidia-smi``
  reports it); ``auto`` sets no cap.
- ``grow-memory``: without a cap, allocate as needed instead of all at start.

Pure logic except :func:`card_memory_mb` (one bounded ``nvidia-smi`` call), so
every rule is tested without a GPU (``tests/unit/test_gpu_device.py``).
"""
import os
import re
import shutil
import subprocess

from vergeml.console import warn

NVIDIA_SMI_TIMEOUT = 10  # seconds; a hung driver must not hang ml train


def visible_devices(device_id):
    """The ``CUDA_VISIBLE_DEVICES`` value for a device id, or None to leave it as it is.

    Args:
        device_id: ``auto``, ``cpu``, ``gpu`` or ``gpu:N``.

    Returns:
        ``"-1"`` for cpu, ``"N"`` for gpu:N (``"0"`` for gpu), None for auto.
    """
    if device_id == "cpu":
        return "-1"
    match = re.fullmatch(r"gpu(?::(\d+))?", device_id)
    return (match.group(1) or "0") if match else None


def physical_index(device_id, environ=None):
    """The card number ``nvidia-smi`` knows the chosen GPU by (for its memory).

    Args:
        device_id: the device id.
        environ: the environment (``os.environ``).

    Returns:
        ``N`` of ``gpu:N``; else the first card ``CUDA_VISIBLE_DEVICES`` shows (0 when unset);
        None when that is not a number (a UUID).
    """
    match = re.fullmatch(r"gpu:(\d+)", device_id)
    if match:
        return int(match.group(1))
    shown = (environ if environ is not None else os.environ).get("CUDA_VISIBLE_DEVICES", "0")
    first = shown.split(",")[0].strip() or "0"
    return int(first) if first.isdigit() else None


def memory_limit_mb(memory, total_mb):
    """The memory cap of a ``memory`` setting on a card of ``total_mb``.

    Args:
        memory: ``auto`` or a percentage such as ``50%``.
        total_mb: the card's memory in MB (None: unknown).

    Returns:
        The cap in MB, or None for no cap (auto, 100%, or an unknown total).
    """
    if memory in (None, "auto") or total_mb is None:
        return None
    share = int(str(memory).rstrip("%"))
    return None if share >= 100 else max(1, total_mb * share // 100)


def card_memory_mb(index):
    """The total memory of NVIDIA card ``index`` in MB, from ``nvidia-smi`` (None when unknown)."""
    tool = shutil.which("nvidia-smi")
    if tool is None or index is None:
        return None
    try:
        out = subprocess.run([tool, "--query-gpu=memory.total", "--format=csv,noheader,nounits",
                              f"--id={index}"], capture_output=True, text=True,
                             timeout=NVIDIA_SMI_TIMEOUT, check=True).stdout
        return int(out.strip().splitlines()[0])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def configure(tf, device, total_mb=None):
    """Apply the memory settings to the GPU TensorFlow sees (after import, before first use).

    Args:
        tf: the ``tensorflow`` module.
        device: the validated settings: ``id``, ``memory``, ``grow-memory``.
        total_mb: the card's memory (None: asked of ``nvidia-smi`` when a cap is set).

    Returns:
        The cap set in MB, or None.
    """
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return None
    limit = None
    if device.get("memory", "auto") != "auto":
        total_mb = total_mb if total_mb is not None else card_memory_mb(physical_index(device["id"]))
        limit = memory_limit_mb(device["memory"], total_mb)
        if limit is None and total_mb is None:
            warn(f"device memory {device['memory']}: the card's memory is unknown (no "
                 "nvidia-smi); no cap set")
    try:
        if limit is not None:  # a cap and memory growth cannot both be set on a device
            tf.config.set_logical_device_configuration(
                gpus[0], [tf.config.LogicalDeviceConfiguration(memory_limit=limit)])
        elif device.get("grow-memory", True):
            for gpu in gpus:
                tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError:  # TensorFlow already initialised the devices: too late, keep them
        return None
    return limit


def describe(tf, device, limit=None):
    """One line naming the device a run uses, for the first lines of ``ml train``.

    Args:
        tf: the ``tensorflow`` module.
        device: the validated settings (``id``).
        limit: the memory cap set, in MB.

    Returns:
        e.g. ``Device: GPU 1 (NVIDIA A10G), memory capped at 11,520 MB`` or
        ``Device: CPU (TensorFlow sees no GPU)``.
    """
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        why = "as asked" if device["id"] == "cpu" else "TensorFlow sees no GPU"
        return f"Device: CPU ({why})"
    index = physical_index(device["id"])
    try:
        name = tf.config.experimental.get_device_details(gpus[0]).get("device_name")
    except (AttributeError, RuntimeError, ValueError):
        name = None
    text = f"Device: GPU {index if index is not None else 0}" + (f" ({name})" if name else "")
    return text + (f", memory capped at {limit:,} MB" if limit else "")
