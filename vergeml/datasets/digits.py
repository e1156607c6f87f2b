"""``ml download:digits``: scikit-learn's bundled handwritten digits, offline.

1,797 grayscale 8x8 images of the digits 0-9 (the UCI optical digits test
set) ship inside scikit-learn, so this data set needs no network. It is the
default data set for ``make demo`` and the end-to-end tests.
"""
import io

from vergeml.datasets.base import Dataset
from vergeml.fileutil import atomic_write_bytes


class Digits(Dataset):
    """Write the digits as ``samples/<digit>/<index>.png`` (8x8, mode L)."""

    name = "digits"
    description = "1,797 labeled 8x8 images of handwritten digits 0-9 (offline, bundled)."
    size_text = "no download"
    source = "https://scikit-learn.org/stable/datasets/toy_dataset.html#digits-dataset"
    classes = tuple(str(d) for d in range(10))

    def prepare(self, paths, tmp, env):
        """Render every digit to PNG inside ``tmp``; no downloaded files are used."""
        from sklearn.datasets import load_digits  # heavy import: only when run

        digits = load_digits()
        for index, (image, label) in enumerate(zip(digits.images, digits.target)):
            atomic_write_bytes(tmp / str(label) / f"{index:04d}.png", to_png(image))
        return [(tmp / name, name) for name in self.classes]


def to_png(image):
    """PNG bytes of one 8x8 digit, intensities 0..16 scaled to 0..255."""
    import numpy as np
    from PIL import Image

    pixels = np.clip(np.rint(np.asarray(image, dtype=float) * (255 / 16)), 0, 255)
    buffer = io.BytesIO()
    # a 2-D uint8 array becomes an 8-bit grayscale (mode L) image
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()
