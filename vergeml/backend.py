"""Import and configure TensorFlow and Keras, once, quietly.

Commands that run a model call :func:`load` before anything else imports
TensorFlow, so the ``--device`` options take effect and TensorFlow's
start-up log lines (printed by native code, whatever the log level) stay off
the user's console.
"""
import os
import re
import sys

from vergeml.errors import ConfigError

_loaded = None


def load(settings=None):
    """Import TensorFlow and Keras with the device settings applied.

    Args:
        settings: resolved global options (``device``, ``device-memory``), or None.

    Returns:
        ``(tf, keras)``.
    """
    global _loaded
    if _loaded is None:
        settings = settings or {}
        _select_device(settings.get("device", "auto"))
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with _silenced_stderr():
            import keras
            import tensorflow as tf
        _limit_memory(tf, settings.get("device-memory", "auto"))
        _loaded = (tf, keras)
    return _loaded


def _select_device(device):
    """``cpu`` hides GPUs; ``gpu:N`` shows only GPU N (must happen before import)."""
    device = str(device).strip().lower()
    match = re.fullmatch(r"gpu(?::(\d+))?", device)
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    elif match:
        os.environ["CUDA_VISIBLE_DEVICES"] = match.group(1) or "0"
    elif device != "auto":
        raise ConfigError(f"--device: expected auto, cpu, gpu or gpu:N, got \"{device}\"")


def _limit_memory(tf, memory):
    """``auto`` lets GPU memory grow on demand instead of grabbing it all."""
    memory = str(memory).strip()
    if memory != "auto" and not re.fullmatch(r"\d{1,3}%", memory):
        raise ConfigError(f"--device-memory: expected auto or a percentage such as 80%, got \"{memory}\"")
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass  # already initialised


class _silenced_stderr:
    """Point file descriptor 2 at /dev/null (native libraries write there directly)."""

    def __enter__(self):
        sys.stderr.flush()
        self.saved = os.dup(2)
        self.null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(self.null, 2)

    def __exit__(self, *exc):
        os.dup2(self.saved, 2)
        os.close(self.saved)
        os.close(self.null)
