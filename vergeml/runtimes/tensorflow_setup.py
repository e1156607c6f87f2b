"""Import and configure TensorFlow and Keras, once, quietly.

Commands that run a model call :func:`load` before anything else imports
TensorFlow, so the ``--device`` options take effect and TensorFlow's
start-up log lines (printed by native code, whatever the log level) stay off
the user's console.
"""
import os
import re
import sys

from vergeml.settings.project_settings import device_settings
from vergeml.console import warn
from vergeml.errors import VergeMLError

_loaded = None


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
        VergeMLError: TensorFlow or Keras is not installed.
    """
    global _loaded
    if _loaded is None:
        device = device_settings(settings or {})
        _select_device(device["id"])
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            with _silenced_stderr():
                import keras
                import tensorflow as tf
        except ImportError as err:
            raise VergeMLError(f"cannot import TensorFlow/Keras: {err}",
                               hint="Install them with: pip install tensorflow") from None
        if device["grow-memory"]:
            _allow_memory_growth(tf)
        _warn_no_gpu(tf, device["id"])
        _loaded = (tf, keras)
    return _loaded


def _select_device(device):
    """``cpu`` hides GPUs; ``gpu:N`` shows only GPU N (must happen before import)."""
    match = re.fullmatch(r"gpu(?::(\d+))?", device)
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    elif match:
        os.environ["CUDA_VISIBLE_DEVICES"] = match.group(1) or "0"


def _warn_no_gpu(tf, device):
    """A GPU asked for but not there is one warning line, not a silent CPU run."""
    if device.startswith("gpu") and not tf.config.list_physical_devices("GPU"):
        warn(f"--device={device}: TensorFlow sees no GPU here (no CUDA build of TensorFlow, "
             "no driver, or no such card); running on the CPU")


def _allow_memory_growth(tf):
    """Let GPU memory grow on demand instead of grabbing it all (``grow-memory``, default true).

    ``--device-memory`` takes a percentage for compatibility, but no hard cap is set: that
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
