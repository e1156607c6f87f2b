"""``ml @name predict --explain`` and REST's ``POST /explain``: a Grad-CAM heatmap
(:mod:`.gradcam`) over each image, written as a PNG (:mod:`.heatmap_image`).

The heatmap is drawn over the image as the model saw it (decoded, fitted to
the input size with the resize mode), for the class the prediction chose, or
the one asked for with ``--explain-label``. Only the Keras model has the
gradients: an export cannot explain.
"""
import os
from pathlib import Path

import numpy as np

from vergeml.errors import UsageError
from vergeml.models.imagenet.explain.gradcam import GradCam
from vergeml.models.imagenet.explain.heatmap_image import heatmap_name, overlay, write_heatmap_png
from vergeml.models.imagenet.image_decoder import error_text


class Explainer:
    """Heatmaps for one Keras :class:`~vergeml.models.imagenet.predictor.Predictor`.

    Args:
        predictor: the predictor (its fused model, decoder, preprocessing and lock).
    """

    def __init__(self, predictor):
        self.predictor = predictor
        self.cam = GradCam(predictor.fused_model)

    def class_index(self, label):
        """The output index of ``label`` (a class name).

        Raises:
            UsageError: not one of the model's labels.
        """
        labels = self.predictor.labels
        if label not in labels:
            shown = ", ".join(labels[:20]) + (" ..." if len(labels) > 20 else "")
            raise UsageError(f"explain-label: unknown label {label!r} (labels: {shown})")
        return labels.index(label)

    def write_for_results(self, results, folder, label=None, resize=None):
        """Write a heatmap PNG for each predicted file; add its path to the result.

        Args:
            results: ``predict_files`` results (with ``path``); failed files are skipped.
            folder: where the PNGs go (created).
            label: the class to explain; None: each file's most likely class.
            resize: the resize mode of the prediction (None: the training mode).

        Returns:
            ``results``, each predicted one with ``heatmap`` (the PNG's path).
        """
        if label is not None:
            self.class_index(label)  # an unknown label is said before any work
        for result in results:
            if "prediction" not in result:
                continue
            chosen = label or result["prediction"][0]["label"]
            try:
                image = self.predictor.decoder.decode(self.predictor.decoder.open_path(result["path"]),
                                                      resize)
            except Exception as err:  # noqa: BLE001 - the file changed since it was predicted
                result["heatmap_error"] = error_text(err)
                continue
            path = Path(folder) / heatmap_name(result["path"], chosen)
            write_heatmap_png(path, np.clip(np.rint(image), 0, 255).astype(np.uint8),
                              self._map(image, chosen))
            result["heatmap"] = os.fspath(path)
        return results

    def png(self, data, label=None, resize=None, tta=None):
        """A heatmap PNG of one encoded image (``POST /explain``).

        Args:
            data: the encoded image.
            label: the class to explain; None: the most likely one.
            resize: the resize mode (None: the training mode).
            tta: how the most likely class is predicted (None: as the instance was trained).

        Returns:
            ``(label explained, PNG bytes)``.
        """
        import io

        from PIL import Image
        image = self.predictor.decoder.decode(self.predictor.decoder.open_bytes(data), resize)
        if label is None:
            probs = self.predictor.probabilities(image[None], tta)[0]
            label = self.predictor.labels[int(np.argmax(probs))]
        drawn = overlay(np.clip(np.rint(image), 0, 255).astype(np.uint8), self._map(image, label))
        buffer = io.BytesIO()
        Image.fromarray(drawn).save(buffer, format="PNG")
        return label, buffer.getvalue()

    def _map(self, image, label):
        batch = self.predictor.preprocess(np.array(image[None], dtype=np.float32, copy=True))
        with self.predictor.lock:
            return self.cam.heatmaps(batch, [self.class_index(label)])[0]
