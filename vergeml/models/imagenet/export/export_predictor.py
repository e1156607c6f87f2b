"""Predict through an exported model (``ml @name predict --export=onnx``).

:class:`ExportPredictor` runs ``trainings/<name>/export/<format>/`` with its
own runtime (onnxruntime, LiteRT, TensorFlow SavedModel, Keras), so a user
sees the deployed file give the answer. Images are decoded exactly as the
Keras predictor decodes them (the same
:class:`~vergeml.models.imagenet.image_predictor.ImagePredictor`); the
preprocessing is inside the exported graph, so the runtime gets the decoded
RGB pixels as uint8. Through onnx and tflite no TensorFlow is imported.
"""
from vergeml.errors import UsageError, VergeMLError
from vergeml.models.imagenet.image_predictor import ImagePredictor
from vergeml.runtimes import export_formats as runtimes


class ExportPredictor(ImagePredictor):
    """An instance's export, loaded once for prediction.

    Args:
        instance: a :class:`vergeml.instances.Instance` (for the ``data.preprocess``
            operations it was trained with).
        folder: the export folder (holding ``metadata.json`` and ``labels.txt``).
        fmt: the export format; None reads it from ``metadata.json``.
        threads: runtime threads, or None for the runtime's default.
    """

    def __init__(self, instance, folder, fmt=None, threads=None):
        self.folder = str(folder)
        self.meta = runtimes.read_metadata(self.folder)
        self.format = fmt or self.meta.get("format")
        if self.format not in runtimes.FORMATS:
            raise VergeMLError(f"{self.folder}: unknown export format {self.format!r}")
        size = int(self.meta.get("size") or 0)
        if size <= 0:
            raise VergeMLError(f"{self.folder}/metadata.json records no input size")
        threshold = self.meta.get("reject_threshold")  # an export with the unknown score
        super().__init__(instance, runtimes.read_labels(self.folder), size,
                         self.meta.get("resize") or "fill",
                         None if threshold is None else float(threshold))
        self._run = runtimes.load_runtime(self.folder, self.format, threads)

    def heatmap_png(self, data, label=None, **_options):
        """Exports have no gradients to draw heatmaps from."""
        raise UsageError("heatmaps need the Keras model's gradients; serve it without --export")

    def predict_arrays(self, batch):
        """Run the export on a ``n x size x size x 3`` batch of RGB pixels (0-255).

        Returns:
            ``n x classes`` numpy array of probabilities, then the unknown score
            when the export has one.
        """
        import numpy as np
        pixels = np.clip(np.rint(np.asarray(batch, dtype=np.float32)), 0, 255).astype(np.uint8)
        with self.lock:
            out = np.asarray(self._run(pixels))
        columns = len(self.labels) + (self.threshold is not None)
        if out.ndim != 2 or out.shape[1] != columns:
            raise VergeMLError(f"{self.folder}: the export returned shape {out.shape}, "
                               f"expected (n, {columns})")
        return out
