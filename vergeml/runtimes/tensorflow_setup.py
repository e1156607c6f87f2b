"""Import and configure TensorFlow and Keras, once, quietly.

Commands that run a model call :func:`load` before anything else imports
TensorFlow, so the ``--device`` options take effect and TensorFlow's
start-up log lines (printed by native code, whatever the log level) stay off
the user's console.
"""
import os
import sys

from vergeml.runtimes import gpu_device
from vergeml.settings.project_settings import device_settings
from vergeml.console import warn
from vergeml.errors import VergeMLError

_loaded = None
_device_line = None


def load(settings=None):
    """Import TensorFlow and Keras with the device settings applied.

    Only the first call imports, so only its settings take effect: commands
    pass ``env.settings``; helpers that merely need the modules pass nothing.

    The device settings are validated here, not when the project file is
    read: commands that use no device never fail on them.

    Args:
        settings: resolved global options (``device``, ``device-memory``,
            ``device-grow-memory``, see :func:`vergeml.settings.project_settings.resolve_device`),
            or None.

    Returns:
        ``(tf, keras)``.

    Raises:
        ConfigError: a bad device setting (on the command line or in the project file).

    The device rules (which GPU, its memory cap) are :mod:`vergeml.runtimes.gpu_device`.
        VergeMLError: TensorFlow or Keras is not installed.
    """
    global _loaded, _device_line
    if _loaded is None:
        device = device_settings(settings or {})
        shown = gpu_device.visible_devices(device["id"])
        if shown is not None:
            os.environ["CUDA_VISIBLE_DEVICES"] = shown
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            with _silenced_stderr():
                import keras
                import tensorflow as tf
        except ImportError as err:
            raise VergeMLError(f"cannot import TensorFlow/Keras: {err}",
                               hint="Install them with: pip install tensorflow") from None
        limit = gpu_device.configure(tf, device)
        _warn_no_gpu(tf, device["id"])
        _device_line = gpu_device.describe(tf, device, limit)
        _loaded = (tf, keras)
    return _loaded


def announce_device():
    """Print the device the loaded TensorFlow runs on (``Device: CPU (...)``), once per
    process: the runs of a grid share it."""
    global _device_line
    if _device_line:
        print(_device_line)
        _device_line = ""


def _warn_no_gpu(tf, device):
    """A GPU asked for but not there is one warning line, not a silent CPU run."""
    if device.startswith("gpu") and not tf.config.list_physical_devices("GPU"):
        warn(f"--device={device}: TensorFlow sees no GPU here (no CUDA build of TensorFlow, "
             "no driver, or no such card); running on the CPU")


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


def load_savedmodel(path, threads=None):
    """A callable ``run(batch) -> probabilities`` for a SavedModel export (uint8 images in).

    Args:
        path: the SavedModel folder.
        threads: unused (TensorFlow's own pools).
    """
    import numpy as np

    tf, _ = load()
    loaded = tf.saved_model.load(path)

    def run(batch):
        return np.asarray(loaded.serve(tf.constant(np.asarray(batch, dtype=np.uint8))))
    return run


def load_keras(path, threads=None):
    """A callable ``run(batch) -> probabilities`` for a ``.keras`` export (uint8 images in).

    Args:
        path: the model file.
        threads: unused (TensorFlow's own pools).
    """
    import numpy as np

    from vergeml.runtimes.score_layer import layer_class
    _, keras = load()
    layer_class()  # registered, for an export with the unknown score
    model = keras.saving.load_model(path, compile=False)

    def run(batch):
        return np.asarray(model.predict_on_batch(np.asarray(batch, dtype=np.uint8)))
    return run
