"""The part every imagenet predictor shares: files and in-memory images decoded
by one :class:`~vergeml.models.imagenet.image_decoder.ImageDecoder`, in
batches, with a per-item error for an image that cannot be read. A subclass
runs the batch: the Keras model (:mod:`.predictor`) or an export
(:mod:`.export.export_predictor`). With test-time augmentation (``--tta``, the
instance's own setting unless a request says otherwise) each batch goes to the
subclass with its views (:mod:`.tta`), so every runtime averages the same views.
With unknown rejection (:mod:`.rejection`) the subclass's model gives one more
column, the unknown score, and each result says whether it is over the threshold."""
import os
import threading

from vergeml.models.imagenet.image_decoder import ImageDecoder, error_text
from vergeml.models.imagenet.imagenet_options import PREDICT_OPTIONS
from vergeml.models.imagenet.instance_model import operations
from vergeml.models.imagenet.rejection import no_rejection_note, rejection_fields, request_threshold
from vergeml.models.imagenet.tta import mean_probabilities, trained_with_tta, use_tta
from vergeml.models.model_base import Predictor as BasePredictor

BATCH_SIZE = 32


class ImagePredictor(BasePredictor):
    """Decode, batch, predict. Safe to share between threads: decoding runs in the
    caller's thread, :meth:`predict_arrays` holds :attr:`lock` around the model call.

    Args:
        instance: a :class:`vergeml.instances.Instance` (name, ``data.preprocess``).
        labels: class names in output order.
        size: the model's input size.
        resize: the training's resize mode, the default of ``--resize``.

        threshold: the unknown score's threshold fitted in training, when the
            model gives the score (one column after the probabilities); None
            for a model without rejection.

    Attributes:
        tta: whether the instance was trained with ``--tta``, the default of ``--tta``.
        threshold: as given.
    """

    options = PREDICT_OPTIONS

    def __init__(self, instance, labels, size, resize, threshold=None):
        self.tta = trained_with_tta(instance.hyperparameters)
        super().__init__(instance.name, labels, size,
                         {"resize": resize, "tta": self.tta, "reject": "auto"})
        self.instance = instance
        self.resize = resize
        self.threshold = threshold
        self.decoder = ImageDecoder(operations(instance), size, resize)
        self.lock = threading.Lock()
        if threshold is None:
            no_rejection_note(instance.name)

    def warm_up(self):
        """Run the model once so the first real request is not slowed by tracing."""
        import numpy as np
        self.predict_arrays(np.zeros((1, self.size, self.size, 3), dtype=np.float32))

    def predict_files(self, paths, top_k=5, resize=None, tta=None, reject=None):
        """Predict the classes of image files, in batches.

        Args:
            paths: file paths as typed by the user.
            top_k: how many labels to return per file.
            resize: resize mode; None uses the training mode.
            tta: average over the TTA views; None: as the instance was trained.
            reject: ``auto`` or None (the fitted threshold), ``off``, or a threshold.

        Returns:
            One dict per path, in order: ``{"filename", "path", "prediction":
            [{"label", "probability"}, ...]}`` (with rejection also ``unknown``,
            ``ood_score`` and ``threshold``), or ``{"filename", "path",
            "error"}`` for a file that could not be read.
        """
        results = []
        for start in range(0, len(paths), BATCH_SIZE):
            chunk = [str(p) for p in paths[start:start + BATCH_SIZE]]
            items = [(os.path.basename(p), self.decoder.open_path(p)) for p in chunk]
            for path, result in zip(chunk, self._predict_items(items, top_k, resize, tta, reject)):
                results.append({"filename": result.pop("filename"), "path": path, **result})
        return results

    def predict_images(self, items, top_k=5, resize=None, tta=None, reject=None):
        """Predict the classes of in-memory images (used by the REST service).

        Args:
            items: ``(name, image)`` pairs; image is a PIL image or encoded bytes.
            top_k: how many labels to return per image.
            resize: resize mode; None uses the training mode.
            tta: average over the TTA views; None: as the instance was trained.
            reject: as for :meth:`predict_files`.

        Returns:
            One dict per item: ``{"filename", "prediction": [...]}`` (with
            rejection also ``unknown``, ``ood_score``, ``threshold``) or
            ``{"filename", "error"}``.
        """
        results = []
        for start in range(0, len(items), BATCH_SIZE):
            chunk = [(name, self.decoder.open_bytes(img)) for name, img in items[start:start + BATCH_SIZE]]
            results.extend(self._predict_items(chunk, top_k, resize, tta, reject))
        return results

    def _predict_items(self, items, top_k, resize, tta, reject):
        """Decode a batch, run the model once, keep per-item errors."""
        import numpy as np
        threshold = request_threshold(reject, self.threshold, self.name)
        arrays, errors = [], {}
        for index, (_, opener) in enumerate(items):
            try:
                arrays.append(self.decoder.decode(opener, resize))
            except Exception as err:  # noqa: BLE001 - any decode failure is that file's error
                errors[index] = error_text(err)
        outputs = self.outputs(np.stack(arrays), tta) if arrays else np.zeros((0, 0))
        classes = len(self.labels)
        results, row = [], 0
        for index, (name, _) in enumerate(items):
            if index in errors:
                results.append({"filename": name, "error": errors[index]})
                continue
            result = {"filename": name, "prediction": self.top(outputs[row, :classes], top_k)}
            if threshold is not None:
                result.update(rejection_fields(outputs[row, classes], threshold))
            results.append(result)
            row += 1
        return results

    def probabilities(self, batch, tta=None):
        """Class probabilities (``n x classes``) of decoded pixels, averaged over the TTA views
        when ``tta`` (None: as the instance was trained) asks for them."""
        return self.outputs(batch, tta)[:, :len(self.labels)]

    def outputs(self, batch, tta=None):
        """:meth:`predict_arrays` of decoded pixels, averaged over the TTA views when ``tta``
        (None: as the instance was trained) asks for them (the unknown score too)."""
        if use_tta(tta, self.tta):
            return mean_probabilities(self.predict_arrays, batch)
        return self.predict_arrays(batch)

    def predict_arrays(self, batch):
        """Class probabilities (``n x classes``), then with rejection the unknown
        score (one more column), of a ``n x size x size x 3`` batch of decoded
        pixels (0-255)."""
        raise NotImplementedError
