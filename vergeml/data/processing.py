"""How a sample's bytes become the pixels a model sees: read, decode, operations, fit.

:meth:`vergeml.data.Dataset.load_image` runs these steps in this process;
the Ray engine (:mod:`vergeml.models.imagenet.extraction.ray_worker`) runs the same
:class:`Processing` on a cluster node, from the bytes the driver's node read.
One code path, so both give identical pixels, hence identical features.
(A source without files, such as MNIST, is shipped as PNG: lossless.)

A :class:`Processing` holds only the operations and the seed: it pickles
small (no samples, no source), so it can be shipped to other processes.
"""
import random
from dataclasses import dataclass

from vergeml.data import images
from vergeml.data.fingerprint import file_digest
from vergeml.data.operations import OperationError
from vergeml.errors import VergeMLError


def read_checked(path, digest, name):
    """A file's bytes, checked against the digest its cache key was made from.

    A file edited while a run is going would otherwise be cached under its
    old key, and served if the old content ever came back.

    Args:
        path: the file.
        digest: the content digest the sample was scanned with.
        name: how messages name the sample (its relative path).

    Returns:
        bytes.

    Raises:
        BadImageError: the file cannot be read.
        VergeMLError: the content changed since the scan.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise images.BadImageError(path, err.strerror or str(err)) from None
    if file_digest(data) != digest:
        raise VergeMLError(f"{name} changed while running; run the command again")
    return data


def encode_png(img):
    """An image as PNG bytes: lossless, so :func:`images.decode_image` gives back its pixels."""
    import io
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class Processing:
    """The pixel operations of a data set and the seed of their random draws.

    Args:
        ops: the operations that change pixels, in order.
        seed: the run's random seed.
        random: whether any operation of the data set draws random numbers.
    """

    ops: tuple = ()
    seed: int = 42
    random: bool = False

    def apply(self, img, relpath, split, variant, size=None, resize_mode="fill"):
        """Run the operations on a decoded image, then fit it to ``size``.

        Args:
            img: RGB ``PIL.Image``.
            relpath: the sample's relative path (part of its random seed).
            split: ``train``, ``val`` or ``test``; only train is augmented.
            variant: the sample's augmentation copy (part of its random seed).
            size: resize the result to ``size`` x ``size`` (None: as the ops leave it).
            resize_mode: ``fill``, ``aspect-fill`` or ``aspect-fit``.

        Returns:
            ``PIL.Image``.

        Raises:
            VergeMLError: an operation cannot be applied to this image.
        """
        # Augmentation is for training only: val/test get rng=None (deterministic ops).
        rng = random.Random(f"{self.seed}:{relpath}:{variant}") \
            if split == "train" and self.random else None
        for op in self.ops:
            try:
                img = op.apply(img, rng)
            except OperationError as err:
                raise VergeMLError(f"{relpath}: {err.message}") from None
        if size:
            img = images.fit_to_size(img, size, resize_mode)
        return img

    def decode(self, data, name, size=None):
        """Decode a sample's bytes, a JPEG at a reduced scale when nothing but the fit
        to ``size`` follows (:func:`images.fit_draft`: the predictor decodes the same way).

        Args:
            data: the encoded image.
            name: how errors name it.
            size: the size the image is fitted to next (None: no fit).

        Returns:
            RGB ``PIL.Image``.

        Raises:
            BadImageError: the bytes do not decode.
        """
        return images.decode_image(data, name, images.fit_draft(size, self.ops))

    def array(self, data, relpath, split, variant, size=None, resize_mode="fill"):
        """Encoded image bytes -> the processed ``uint8`` array (H, W, 3).

        Args:
            data: the encoded image (a sample file's bytes).
            relpath, split, variant, size, resize_mode: as for :meth:`apply`.

        Returns:
            ``np.ndarray`` uint8.

        Raises:
            BadImageError: the bytes do not decode.
            VergeMLError: an operation cannot be applied to this image.
        """
        img = self.decode(data, relpath, size)
        return images.to_array(self.apply(img, relpath, split, variant, size, resize_mode))
