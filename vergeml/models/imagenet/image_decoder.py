"""How prediction turns an image into model input: one decoder for the Keras
predictor, every export predictor and the export's self-check.

Load (RGB, EXIF applied, transparency on black) -> the instance's
``data.preprocess`` operations -> fit to the training size with the resize
mode -> float32 pixels (0-255). The backbone's ``preprocess_input`` is not
applied here: the Keras predictor applies it, an export has it in its graph.
Nothing here imports NumPy or Pillow at module level.
"""
import os


class ImageDecoder:
    """Decode images for one instance.

    Args:
        operations: the ``data.preprocess`` operations the instance was trained
            with (:func:`vergeml.models.imagenet.instance_model.operations`).
        size: the model's input size in pixels.
        resize: the training's resize mode (``fill``, ``aspect-fill``, ``aspect-fit``).
    """

    def __init__(self, operations, size, resize):
        self.operations = list(operations)
        self.size = size
        self.resize = resize

    @property
    def draft(self):
        """The ``(w, h)`` a JPEG may be decoded at, as training decodes it
        (:func:`vergeml.data.images.fit_draft`; None with ``data.preprocess`` operations)."""
        from vergeml.data.images import fit_draft
        return fit_draft(self.size, self.operations)

    def decode(self, image, resize=None):
        """Turn an opened image into a model-ready float32 array.

        Args:
            image: a PIL image, or a zero-argument callable returning one
                (:meth:`open_path`, :meth:`open_bytes`).
            resize: resize mode; None uses the training mode.

        Returns:
            ``size x size x 3`` float32 array of pixels (0-255).

        Raises:
            BadImageError: when the image cannot be decoded.
        """
        import numpy as np
        from vergeml.data.images import fit_to_size
        img = image() if callable(image) else image
        for op in self.operations:  # deterministic, as for val/test samples in training
            img = op.apply(img, None)
        img = fit_to_size(img, self.size, resize or self.resize)
        return np.asarray(img.convert("RGB"), dtype=np.float32)

    def open_path(self, path):
        """A deferred loader of an image file, so a bad file fails inside the caller's
        per-item ``try``. The pixel limit is the tool's one limit
        (:data:`vergeml.data.images.MAX_PIXELS`), checked from the header."""
        draft = self.draft

        def opener():
            from vergeml.data.images import load_image
            if os.path.isdir(path):
                raise IsADirectoryError("is a directory")
            return load_image(path, draft)
        return opener

    def open_bytes(self, image):
        """A deferred loader of encoded bytes or an already opened PIL image."""
        draft = self.draft

        def opener():
            from vergeml.data.images import check_pixels, decode_image, to_rgb
            if not isinstance(image, (bytes, bytearray, memoryview)):
                check_pixels(image.size)
                return to_rgb(image)  # transparency on black, as for files
            return decode_image(bytes(image), draft=draft)
        return opener


def error_text(err):
    """One line describing a failure, without the exception class noise."""
    text = (getattr(err, "reason", None) or getattr(err, "strerror", None)
            or getattr(err, "message", None) or str(err) or type(err).__name__)
    return text.splitlines()[0]
