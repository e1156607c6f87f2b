"""Predict through an exported model (``ml @name predict --export=onnx``).

:class:`ExportPredictor` runs ``trainings/<name>/export/<format>/`` with its
own runtime (onnxruntime, LiteRT, TensorFlow SavedModel, Keras), so a user
sees the deployed file give the answer. Images are decoded exactly as
:class:`vergeml.models.imagenet.predictor.Predictor` decodes them (the same
methods, inherited); the preprocessing is inside the exported graph, so the
runtime gets the decoded RGB pixels as uint8. Through onnx and tflite no
TensorFlow is imported.
"""
import threading

from vergeml.runtimes import export_formats as runtimes
from vergeml.errors import VergeMLError
from vergeml.models.imagenet.predictor import Predictor, _operations


class ExportPredictor(Predictor):
    """An instance's export, loaded once for prediction.

    Args:
        instance: a :class:`vergeml.instances.Instance` (for the ``data.preprocess``
            operations it was trained with).
        folder: the export folder (holding ``metadata.json`` and ``labels.txt``).
        fmt: the export format; None reads it from ``metadata.json``.
        threads: runtime threads, or None for the runtime's default.
    """

    def __init__(self, instance, folder, fmt=None, threads=None):
        self.instance = instance
        self.folder = str(folder)
        self.meta = runtimes.read_metadata(self.folder)
        self.format = fmt or self.meta.get("format")
        if self.format not in runtimes.FORMATS:
            raise VergeMLError(f"{self.folder}: unknown export format {self.format!r}")
        self.name = instance.name
        self.labels = runtimes.read_labels(self.folder)
        self.size = int(self.meta.get("size") or 0)
        if self.size <= 0:
            raise VergeMLError(f"{self.folder}/metadata.json records no input size")
        self.resize = self.meta.get("resize") or "fill"
        self.defaults = {"resize": self.resize}
        self._ops = _operations(instance)
        self._lock = threading.Lock()
        self._run = runtimes.load_runtime(self.folder, self.format, threads)

    def warm_up(self):
        """Run the export once so the first real request is fast."""
        import numpy as np
        self.predict_arrays(np.zeros((1, self.size, self.size, 3), dtype=np.float32))

    def predict_arrays(self, batch):
        """Run the export on a ``n x size x size x 3`` batch of RGB pixels (0-255).

        Returns:
            ``n x classes`` numpy array of probabilities.
        """
        import numpy as np
        pixels = np.clip(np.rint(np.asarray(batch, dtype=np.float32)), 0, 255).astype(np.uint8)
        with self._lock:
            out = np.asarray(self._run(pixels))
        if out.ndim != 2 or out.shape[1] != len(self.labels):
            raise VergeMLError(f"{self.folder}: the export returned shape {out.shape}, "
                               f"expected (n, {len(self.labels)})")
        return out
