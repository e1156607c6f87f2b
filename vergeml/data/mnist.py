"""The ``mnist`` source: samples from MNIST-format IDX files (MNIST, Fashion-MNIST).

The samples directory holds ``train-images-idx3-ubyte`` and
``train-labels-idx1-ubyte`` and optionally the ``t10k-`` pair, which then is
the test split; each file may be gzipped (``.gz``). Files are memory-mapped,
so a data set costs no memory until its samples are read; gzipped files are
decompressed into an anonymous temporary file first.

Samples are virtual: ``train-images-idx3-ubyte/00042`` is row 42. Their
digest is a hash of the row's pixels, so cache keys survive re-runs and
renames, and a changed file changes exactly the keys of the rows that changed.
"""
import gzip
import hashlib
import os
import re
import shutil
import tempfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from vergeml.data import images
from vergeml.data.sources import ScanResult, Source
from vergeml.errors import ConfigError, VergeMLError
from vergeml.settings.option import Option

# (split, images file, labels file) name stems; Kaggle's copies use a dot before idx.
PARTS = (("train", "train-images", "train-labels"), ("test", "t10k-images", "t10k-labels"))
_SUFFIX = {"images": ("idx3-ubyte", 3), "labels": ("idx1-ubyte", 1)}
UBYTE = 0x08
_BAD_LABEL = re.compile(r"^\.*$|[/\\]")


class IdxError(VergeMLError):
    """An IDX file that cannot be used; the message names the file."""

    def __init__(self, path, reason):
        super().__init__(f"cannot read MNIST file {path}: {reason}",
                         hint="Download the file again; files may be gzipped (.gz) or not.")


def read_idx(path, ndim):
    """Memory-map an unsigned-byte IDX file after checking its header and size.

    Args:
        path: the file (``.gz``: decompressed into a temporary file first).
        ndim: dimensions expected (3 for images, 1 for labels).

    Returns:
        read-only ``np.ndarray`` (a memmap) of the declared shape.

    Raises:
        IdxError: unreadable, not IDX, wrong type or rank, truncated or too long.
    """
    try:
        with _open_plain(path) as handle:
            header = handle.read(4 + 4 * ndim)
            shape = _check_header(header, ndim)
            size = handle.seek(0, os.SEEK_END)
            expected = len(header) + int(np.prod(shape, dtype=np.int64))
            if size != expected:
                state = "truncated" if size < expected else "longer than its header says"
                raise IdxError(path, f"{state}: {size:,} bytes, expected {expected:,} for shape "
                                     f"{'x'.join(map(str, shape))}")
            if not all(shape):
                return np.zeros(shape, np.uint8)  # mmap cannot map zero bytes
            return np.memmap(handle, dtype=np.uint8, mode="r", offset=len(header), shape=shape)
    except (OSError, EOFError, zlib.error, ValueError) as err:
        raise IdxError(path, getattr(err, "strerror", None) or str(err) or type(err).__name__) from None


def _open_plain(path):
    """An open binary file with the IDX bytes (a decompressed temporary for ``.gz``)."""
    if not str(path).endswith(".gz"):
        return open(path, "rb")
    # A temporary file rather than memory: Fashion-MNIST's train images are 47 MB.
    plain = tempfile.TemporaryFile()
    try:
        with gzip.open(path, "rb") as packed:
            shutil.copyfileobj(packed, plain, 1 << 20)
        plain.seek(0)
    except BaseException:
        plain.close()
        raise
    return plain


def _check_header(header, ndim):
    if len(header) < 4 or header[:2] != b"\0\0":
        raise ValueError("not an IDX file (bad magic number)")
    if header[2] != UBYTE:
        raise ValueError(f"data type 0x{header[2]:02x} is not unsigned bytes (0x08)")
    if header[3] != ndim:
        raise ValueError(f"{header[3]} dimension(s), expected {ndim}")
    if len(header) < 4 + 4 * ndim:
        raise ValueError("truncated header")
    shape = tuple(int.from_bytes(header[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    if 0 in shape[1:]:
        raise ValueError(f"empty dimension in shape {'x'.join(map(str, shape))}")
    return shape


class MnistSource(Source):
    name = "mnist"
    description = ("Images and labels in MNIST's IDX format (MNIST, Fashion-MNIST): "
                   "train-images-idx3-ubyte, train-labels-idx1-ubyte and optionally the t10k "
                   "pair (the test split), each optionally gzipped, in the samples dir.")
    labeled = True
    reads_files = False
    options = (
        Option("labels", type="list",
               help="Class names by label index, e.g. [t-shirt, trouser, ...] "
                    "(default: the indices, 0 1 2 ...)."),
        Option("labels-file",
               help="Text file with one class name per line (line 1: label 0), "
                    "relative to the samples dir."),
    )

    def __init__(self, **values):
        super().__init__(**values)
        self._names = self["labels"] or None
        self._arrays = {}   # images file path -> (images memmap, labels memmap)

    def check(self):
        if self["labels"] and self["labels-file"]:
            raise ConfigError("set labels or labels-file, not both")
        if self["labels"]:
            _check_names(self["labels"], "labels")

    def scan(self, root, exclude=()):
        root = Path(root)
        if not root.is_dir():
            raise VergeMLError(f"samples directory not found: {root}",
                               hint="Put train-images-idx3-ubyte and train-labels-idx1-ubyte there.")
        names = self._label_names(root)
        result = ScanResult(digests=[], splits=[])
        present = set()
        for split, image_stem, label_stem in PARTS:
            paths = _find(root, image_stem, "images"), _find(root, label_stem, "labels")
            if split == "train" and not all(paths):
                raise VergeMLError(f"no MNIST files in {root}: expected {image_stem}-idx3-ubyte "
                                   f"and {label_stem}-idx1-ubyte (optionally .gz)")
            if any(paths) and not all(paths):
                missing = f"{image_stem if not paths[0] else label_stem}-idx*-ubyte"
                raise VergeMLError(f"{missing} is missing in {root}: {split} images and labels "
                                   f"come in pairs")
            if all(paths):
                present |= self._add(result, root, paths, names, split)
        result.labels = sorted(present)
        return result

    def _add(self, result, root, paths, names, split):
        """Open one images/labels pair and append its samples; returns the labels seen."""
        pixels, labels = read_idx(paths[0], 3), read_idx(paths[1], 1)
        if len(pixels) != len(labels):
            raise IdxError(paths[1], f"{len(labels):,} labels for {len(pixels):,} images in "
                                     f"{paths[0].name}")
        top = int(labels.max(initial=0))
        if names is not None and top >= len(names):
            raise IdxError(paths[1], f"label {top} has no name: the labels list has {len(names)}")
        named = names or [str(i) for i in range(top + 1)]
        self._arrays[str(paths[0])] = (pixels, labels)
        width = max(5, len(str(len(pixels) - 1)))
        result.files += [(f"{paths[0].name}/{i:0{width}d}", named[label])
                         for i, label in enumerate(labels.tolist())]
        result.digests += [row_digest(row) for row in _rows(pixels)]
        result.splits += [split if split == "test" else None] * len(pixels)
        return {named[i] for i in np.unique(labels).tolist()}

    def load(self, sample):
        folder, row = os.path.split(sample.file)
        pixels = self._arrays[folder][0][int(row)]
        if row_digest(pixels) != sample.digest:
            raise VergeMLError(f"{sample.relpath} changed while running; run the command again")
        # Grayscale to RGB exactly as a grayscale image file would be.
        return images.to_rgb(Image.fromarray(np.asarray(pixels), "L"))

    def _label_names(self, root):
        """Label names from the option or the file; the file is read relative to the
        first directory scanned, which is always the samples dir."""
        if self._names is None and self["labels-file"]:
            path = Path(root, self["labels-file"])
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as err:
                raise VergeMLError(f"cannot read labels-file {path}: "
                                   f"{getattr(err, 'strerror', None) or err}") from None
            self._names = _check_names([line.strip() for line in lines if line.strip()], str(path))
        return self._names


def row_digest(pixels):
    """Content digest of one image row: its shape and pixels."""
    shape = "x".join(map(str, pixels.shape)).encode()
    return hashlib.sha256(b"idx:" + shape + b":" + np.ascontiguousarray(pixels).tobytes()).hexdigest()


def _rows(pixels, chunk=4096):
    """Rows of a memmap, read a chunk at a time (sequential reads, bounded memory)."""
    for start in range(0, len(pixels), chunk):
        yield from np.asarray(pixels[start:start + chunk])


def _find(root, stem, kind):
    """The file of ``stem`` in ``root`` (``-`` or ``.`` before idx, optionally .gz), or None."""
    suffix = _SUFFIX[kind][0]
    for sep in ("-", "."):
        for ext in ("", ".gz"):
            path = root / f"{stem}{sep}{suffix}{ext}"
            if path.is_file():
                return path
    return None


def _check_names(names, where):
    bad = [n for n in names if _BAD_LABEL.search(n)]
    if bad:
        raise ConfigError(f"{where}: {bad[0]!r} cannot be a class name (it names a folder: "
                          f"no / or \\, not empty or dots)")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{where}: duplicate class name(s) {', '.join(duplicates)}")
    return list(names)
