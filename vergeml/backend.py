"""Import and configure TensorFlow and Keras, once, quietly.

Commands that run a model call :func:`load` before anything else imports
TensorFlow, so the ``--device`` options take effect and TensorFlow's
start-up log lines (printed by native code, whatever the log level) stay off
the user's console.
"""
import os
import re
import sys


_loaded = None


def load(settings=None):
    """Import TensorFlow and Keras with the device settings applied.

    Args:
        settings: resolved global options (``device``, ``device-memory``, validated
            by their declarations), or None.

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
    match = re.fullmatch(r"gpu(?::(\d+))?", device)
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    elif match:
        os.environ["CUDA_VISIBLE_DEVICES"] = match.group(1) or "0"


def _limit_memory(tf, memory):
    """Let GPU memory grow on demand instead of grabbing it all.

    A percentage is accepted for compatibility, but no hard cap is set: that
    needs the card's total memory, which TensorFlow only reports once the
    device is initialised (and no GPU was available to verify it).
    """
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
