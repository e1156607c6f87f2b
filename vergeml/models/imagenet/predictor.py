"""Prediction with a trained instance: ``ml @name predict`` and the REST service.

:class:`Predictor` loads an instance's saved model once and classifies images
with exactly the preprocessing used in training: load (RGB, EXIF applied) ->
fit to the training size with the resize mode -> float32 -> the backbone's
``preprocess_input`` -> model. Keras is imported lazily so ``ml help`` stays fast.
"""
import os
import threading
from pathlib import Path

from vergeml.errors import VergeMLError
from vergeml.models.model_base import Predictor as BasePredictor
from vergeml.models.imagenet.imagenet_options import PREDICT_OPTIONS

BATCH_SIZE = 32
# A JPEG is decoded at 1/2, 1/4 or 1/8 scale (Pillow's draft mode) while both sides stay
# at least this many times the input size: an 8160x6144 photo for a 224 px model is
# decoded as 1020x768 (2.3 MB of pixels instead of 150 MB), and the final antialiased
# resize still averages two or more decoded pixels per input pixel.
DRAFT_FACTOR = 2


class Predictor(BasePredictor):
    """Classify images with a trained instance; the model is loaded once.

    Safe to share between threads: decoding runs in the caller's thread, the
    model call is serialised by a lock.

    Args:
        instance: a :class:`vergeml.instances.Instance`.
        settings: resolved global options (``--device`` ...) for
            :func:`vergeml.runtimes.tensorflow_setup.load`; None for the defaults.
    """

    options = PREDICT_OPTIONS

    def __init__(self, instance, settings=None):
        self.instance = instance
        self.name = instance.name
        hyper = dict(instance.hyperparameters or {})
        self.labels = _read_labels(instance)
        self._model = _load_model(instance, settings)
        self._ops = _operations(instance)
        self.size = _input_size(self._model, hyper)
        self.resize = hyper.get("resize") or "fill"
        self.defaults = {"resize": self.resize}
        self._preprocess = _preprocess_function(hyper)
        self._lock = threading.Lock()
        classes = self._model.output_shape[-1]
        if classes != len(self.labels):
            raise VergeMLError(f"@{self.name}: the model has {classes} outputs but "
                               f"labels.txt lists {len(self.labels)} labels")

    def warm_up(self):
        """Run the model once so the first real request is not slowed by tracing."""
        import numpy as np
        self.predict_arrays(np.zeros((1, self.size, self.size, 3), dtype=np.float32))

    def predict_files(self, paths, top_k=5, resize=None):
        """Predict the classes of image files, in batches.

        Args:
            paths: file paths as typed by the user.
            top_k: how many labels to return per file.
            resize: resize mode; None uses the training mode.

        Returns:
            One dict per path, in order: ``{"filename", "path", "prediction":
            [{"label", "probability"}, ...]}``, or ``{"filename", "path",
            "error"}`` for a file that could not be read.
        """
        results = []
        for start in range(0, len(paths), BATCH_SIZE):
            chunk = [str(p) for p in paths[start:start + BATCH_SIZE]]
            items = [(os.path.basename(p), _open_path(p, self.draft)) for p in chunk]
            for path, result in zip(chunk, self._predict_items(items, top_k, resize)):
                results.append({"filename": result.pop("filename"), "path": path, **result})
        return results

    def predict_images(self, items, top_k=5, resize=None):
        """Predict the classes of in-memory images (used by the REST service).

        Args:
            items: ``(name, image)`` pairs; image is a PIL image or encoded bytes.
            top_k: how many labels to return per image.
            resize: resize mode; None uses the training mode.

        Returns:
            One dict per item: ``{"filename", "prediction": [...]}`` or
            ``{"filename", "error"}``.
        """
        results = []
        for start in range(0, len(items), BATCH_SIZE):
            chunk = [(name, _open_bytes(img, self.draft))
                     for name, img in items[start:start + BATCH_SIZE]]
            results.extend(self._predict_items(chunk, top_k, resize))
        return results

    @property
    def draft(self):
        """The ``(w, h)`` a JPEG may be decoded at (see :data:`DRAFT_FACTOR`); None with
        ``data.preprocess`` operations, whose pixel sizes (crop ...) mean the full image."""
        return None if self._ops else (DRAFT_FACTOR * self.size,) * 2

    def decode(self, image, resize=None):
        """Turn an opened image into a model-ready float32 array (before preprocess).

        Args:
            image: a PIL image, or a zero-argument callable returning one.
            resize: resize mode; None uses the training mode.

        Returns:
            ``size x size x 3`` float32 array.

        Raises:
            BadImageError: when the image cannot be decoded.
        """
        import numpy as np
        from vergeml.data.images import fit_to_size
        img = image() if callable(image) else image
        for op in self._ops:  # deterministic, as for val/test samples in training
            img = op.apply(img, None)
        img = fit_to_size(img, self.size, resize or self.resize)
        return np.asarray(img.convert("RGB"), dtype=np.float32)

    def _predict_items(self, items, top_k, resize):
        """Decode a batch, run the model once, keep per-item errors."""
        import numpy as np
        arrays, errors = [], {}
        for index, (_, opener) in enumerate(items):
            try:
                arrays.append(self.decode(opener, resize))
            except Exception as err:  # noqa: BLE001 - any decode failure is that file's error
                errors[index] = _error_text(err)
        probs = self.predict_arrays(np.stack(arrays)) if arrays else []
        results, row = [], 0
        for index, (name, _) in enumerate(items):
            if index in errors:
                results.append({"filename": name, "error": errors[index]})
            else:
                results.append({"filename": name, "prediction": self.top(probs[row], top_k)})
                row += 1
        return results

    def predict_arrays(self, batch):
        """Run preprocess + model on a ``n x size x size x 3`` float32 batch.

        Returns:
            ``n x classes`` numpy array of probabilities.
        """
        import numpy as np
        batch = self._preprocess(np.array(batch, dtype=np.float32, copy=True))
        # Keras models are not documented as thread-safe; serialise the call.
        with self._lock:
            out = self._model.predict_on_batch(batch)
        return np.asarray(out)


def _read_labels(instance):
    path = Path(instance.labels_path)
    if not path.is_file():
        raise VergeMLError(f"labels.txt not found: {path}", hint=_no_model_hint(instance))
    labels = instance.labels()
    if not labels:
        raise VergeMLError(f"no labels in {path}")
    return list(labels)


def _no_model_hint(instance):
    status = getattr(instance, "status", None)
    state = f" ({status})" if status else ""
    return f"@{instance.name}{state} has no saved model; run 'ml list' to find a finished instance."


def _operations(instance):
    """The ``data.preprocess`` operations the instance was trained with."""
    from vergeml.data.operations import parse_operations
    entries = (instance.metadata.get("data") or {}).get("preprocess") or []
    return parse_operations(entries, where=f"@{instance.name} data.preprocess")


def _load_model(instance, settings=None):
    path = Path(instance.model_path)
    if not path.is_file():
        raise VergeMLError(f"model.keras not found: {path}", hint=_no_model_hint(instance))
    from vergeml.runtimes import tensorflow_setup as backend
    _, keras = backend.load(settings)
    try:
        return keras.saving.load_model(str(path), compile=False)
    except Exception as err:  # noqa: BLE001 - a damaged file is a user-level failure
        raise VergeMLError(f"cannot load {path}: {_error_text(err)}") from None


def _input_size(model, hyper):
    """The square input size: from the model when fixed, else the hyperparameters."""
    shape = model.input_shape
    if isinstance(shape, list):
        shape = shape[0]
    if shape and len(shape) == 4 and shape[1]:
        return int(shape[1])
    size = hyper.get("size")
    if isinstance(size, int):
        return size
    raise VergeMLError("cannot tell the model's input size (hyperparameters.size is missing)")


def _preprocess_function(hyper):
    """The backbone's ``preprocess_input``, as the backbone table names it."""
    from vergeml.runtimes import tensorflow_setup as backend
    from vergeml.models.imagenet.backbones import get_backbone, load_object
    backend.load()  # already loaded by _load_model; importing Keras quietly either way
    name = hyper.get("architecture")
    if not name:
        raise VergeMLError("the instance does not record its architecture")
    return load_object(get_backbone(name, hyper.get("variant") or "auto").preprocess)


def _open_path(path, draft=None):
    """A deferred loader, so a bad file fails inside the per-item try.

    The pixel limit is the tool's one limit (:data:`vergeml.data.images.MAX_PIXELS`),
    checked from the header by ``load_image``; ``draft``: see :attr:`Predictor.draft`.
    """
    def opener():
        from vergeml.data.images import load_image
        if os.path.isdir(path):
            raise IsADirectoryError("is a directory")
        return load_image(path, draft)
    return opener


def _open_bytes(image, draft=None):
    """A deferred loader for encoded bytes or an already opened PIL image (see :func:`_open_path`)."""
    def opener():
        from vergeml.data.images import check_pixels, decode_image, to_rgb
        if not isinstance(image, (bytes, bytearray, memoryview)):
            check_pixels(image.size)
            return to_rgb(image)  # transparency on black, as for files
        return decode_image(bytes(image), draft=draft)
    return opener


def _error_text(err):
    """One line describing a failure, without the exception class noise."""
    text = (getattr(err, "reason", None) or getattr(err, "strerror", None)
            or getattr(err, "message", None) or str(err) or type(err).__name__)
    return text.splitlines()[0]
