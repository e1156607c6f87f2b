"""``ml download:digits``: scikit-learn's bundled handwritten digits, offline.

1,797 grayscale 8x8 images of the digits 0-9 (the UCI optical digits test
set) ship inside scikit-learn, so this data set needs no network. It is the
default data set for ``make demo`` and the end-to-end tests.
"""
import importlib.util
import io
from pathlib import Path

from vergeml.downloads.download_base import Download


class Digits(Download):
    """Write the digits as ``samples/<digit>/<index>.png`` (8x8, mode L)."""

    name = "digits"
    description = "1,797 labeled 8x8 images of handwritten digits 0-9 (offline, bundled)."
    size_text = "no download"
    source = "https://scikit-learn.org/stable/datasets/toy_dataset.html#digits-dataset"
    classes = tuple(str(d) for d in range(10))

    def prepare(self, paths, tmp, env):
        """Render every digit to PNG inside ``tmp``; no downloaded files are used."""
        images, labels = load_digits()
        for name in self.classes:
            (tmp / name).mkdir()
        for index, (image, label) in enumerate(zip(images, labels)):
            # Plain writes suffice: tmp is a staging folder that is moved into
            # samples/ only once complete (an fsync per file took seconds).
            (tmp / str(label) / f"{index:04d}.png").write_bytes(to_png(image))
        return [(tmp / name, name) for name in self.classes]


def load_digits():
    """The digits as ``(images n x 8 x 8 in 0..16, labels n)``.

    Reads scikit-learn's bundled ``digits.csv.gz`` directly when it is where
    scikit-learn keeps it: importing scikit-learn takes seconds, the file
    milliseconds. Falls back to :func:`sklearn.datasets.load_digits`.
    """
    import numpy as np

    spec = importlib.util.find_spec("sklearn")  # locates without importing
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            rows = np.loadtxt(path, delimiter=",", dtype=np.int64)
            if rows.shape == (1797, 65):
                return rows[:, :64].reshape(-1, 8, 8), rows[:, 64]
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    return digits.images, digits.target


def to_png(image):
    """PNG bytes of one 8x8 digit, intensities 0..16 scaled to 0..255."""
    import numpy as np
    from PIL import Image

    pixels = np.clip(np.rint(np.asarray(image, dtype=float) * (255 / 16)), 0, 255)
    buffer = io.BytesIO()
    # a 2-D uint8 array becomes an 8-bit grayscale (mode L) image
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()
