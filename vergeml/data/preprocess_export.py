"""Writing the preprocessed samples of a data set to a folder (``ml preprocess``).

Output: ``<directory>/<split>/<label>/<file>`` (``<directory>/<split>/<file>``
for unlabeled sources). Training samples appear once per augmentation
variant. File names keep their extension; a clash (same name in nested
folders, or a variant) gets ``_1``, ``_2``, ... before the extension.

With a ``data.output`` type such as ``labeled-image-features`` each sample is
written as the output's array instead, ``<name>.npy``, computed through the
cache in chunks (memory stays flat).
"""
import sys
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vergeml.data.dataset import load_dataset
from vergeml.errors import VergeMLError
from vergeml.fileutil import atomic_path

# Samples per feature chunk: bounds memory; progress moves a chunk at a time.
CHUNK = 256
# Formats written as they came; anything else (gif: palette) becomes PNG.
_KEEP = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".webp": "WEBP",
         ".tif": "TIFF", ".tiff": "TIFF"}


def export_samples(env, out, splits, limit=None):
    """Write the preprocessed samples (or their output arrays) of the project's data set.

    Args:
        env: the :class:`vergeml.settings.environment.Environment` of the project.
        out: the output directory (:class:`~pathlib.Path`).
        splits: names of the splits to write (``train``, ``val``, ``test``).
        limit: write at most this many samples per split; None for all.

    Raises:
        VergeMLError: when the data cannot be loaded or written.
    """
    dataset = load_dataset(env, skip_bad=env.settings.get("skip-bad-files", False))
    chosen = {s: dataset.samples(s)[:limit or None] for s in splits}
    if not any(chosen.values()):
        raise VergeMLError(f"nothing to write: {_empty(splits)}")
    output = dataset.config.output
    if output is None:
        _write(chosen, out, "images", partial(_write_images, dataset))
        return
    with dataset.open_cache() as cache:
        _write(chosen, out, "feature vectors", partial(_write_arrays, env, dataset, output, cache))
        # Only some samples may have been asked for: unasked entries are not stale.
        print(cache.summary(output.cache_stage(env), stale=False))


def _empty(splits):
    """``the val split is empty``, ``the train, val and test splits are empty``."""
    if len(splits) == 1:
        return f"the {splits[0]} split is empty"
    return f"the {', '.join(splits[:-1])} and {splits[-1]} splits are empty"


def _write(chosen, out, what, write_split):
    """Write every chosen split with ``write_split(samples, folder, bar)``; print counts."""
    total = sum(len(v) for v in chosen.values())
    with tqdm(total=total, desc="Preprocessing", unit="img", file=sys.stderr, disable=None) as bar:
        counts = ", ".join(f"{write_split(samples, out / split, bar):,} {split}"
                           for split, samples in chosen.items())
    print(f"Wrote {total:,} {what} to {out} ({counts}).")


def _write_images(dataset, samples, folder, bar):
    """One image file per sample, in its own format when it can be kept (see ``_KEEP``)."""
    used = set()
    for sample in samples:
        target = _unique(folder / (sample.label or ""), Path(sample.relpath).name, used)
        img = dataset.load_image(sample)
        fmt = _KEEP[target.suffix.lower()]
        with atomic_path(target) as tmp:
            img.save(tmp, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
        bar.update(1)
    return len(samples)


def _write_arrays(env, dataset, output, cache, samples, folder, bar):
    """One ``.npy`` per sample, computed a chunk at a time through the cache."""
    used = set()
    for start in range(0, len(samples), CHUNK):
        chunk = samples[start:start + CHUNK]
        arrays = output.transform(env, dataset, chunk, cache)
        for sample in chunk:
            label = sample.label if output.labeled else None
            target = _unique(folder / (label or ""), Path(sample.relpath).name, used, ".npy")
            with atomic_path(target) as tmp, open(tmp, "wb") as handle:
                np.save(handle, arrays[sample.key])
            bar.update(1)
    return len(samples)


def _unique(folder, name, used, suffix=None):
    """A file name not yet written in this run (``x.jpg``, ``x_1.jpg``, ...).

    Args:
        suffix: the extension to use; default: the file's own when it is
            written as is, else ``.png``.
    """
    path = Path(name)
    suffix = suffix or (path.suffix if path.suffix.lower() in _KEEP else ".png")
    stem, number = path.stem, 0
    candidate = folder / f"{stem}{suffix}"
    while candidate in used:
        number += 1
        candidate = folder / f"{stem}_{number}{suffix}"
    used.add(candidate)
    return candidate
