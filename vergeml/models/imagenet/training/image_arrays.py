"""Decoded training images of phase 2 and the test evaluation of a fine-tuned run.

A split's images are decoded and resized once into one uint8 ``.npy`` file,
``<cache dir>/images/<split>-<size>-<resize>-<digest>.npy`` of shape
``(n, size, size, 3)``, and handed to the pipeline memory-mapped, read-only:
whatever the number of images, a process holds only the batches it works on
(``pipeline.take_rows`` unmaps the pages a batch read). The digest covers the
ordered sample keys (content digest, operations, variant), the size and the
resize mode, so a run with the same samples opens the file and decodes nothing.

The file is built streaming: rows another kept file of the same size and
resize mode holds (found by the sample keys in its ``.keys`` file beside it)
are copied, the rest decoded on a thread pool and written in place; nothing
collects the images in memory. It is written as every file of the tool: to a
temporary file in the same folder, moved into place when complete, so Ctrl-C
or a kill leaves no half file under the final name.

These files replace the ``images:<size>:<resize>`` stage of the SQLite cache
that held the same pixels once more (150 KB an image at 224 px): an unchanged
run reuses the file, a changed one copies the rows it can, so the stage would
only double the disk used. Its old entries are deleted on the first run.

Kept files: per split, size and resize mode the :data:`KEEP` most recently used
(the current one and the one before, the source of rows when a few samples
change); older ones, ``.keys`` files without their images and temporary files
of a dead build are deleted. Cache modes: the files live where the features
do (``auto``, ``disk``); in the other modes a split's images go to an unnamed
temporary file, gone when the run ends (``mem``, ``disk-in``, ``mem-in``: in
the cache folder; ``none``, which writes nothing there: in the system's
temporary folder), decoded anew on every call.
"""
import contextlib
import hashlib
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vergeml import faults
from vergeml.errors import VergeMLError
from vergeml.fileutil import atomic_path, atomic_write_text, writing

FOLDER = "images"
FORMAT = "1"          # bump when the pixels a file holds for the same keys change
KEEP = 2              # files kept per split, size and resize mode
ABANDONED_AFTER = 60  # s without a write before an unlocked temporary file counts as a dead build's
DECODE_BATCH = 32
_NAME = re.compile(r"(train|val|test)-(\d+)-([a-z-]+)-[0-9a-f]{16}\.npy")


def image_stage(size, resize):
    """The old SQLite cache stage of decoded images (only its leftovers are deleted now)."""
    return f"images:{size}:{resize}"


def split_images(dataset, split, size, resize, progress=True):
    """uint8 images and labels of a split; the images memory-mapped, not in memory.

    Args:
        dataset: the :class:`vergeml.data.Dataset`.
        split: ``train``, ``val`` or ``test``.
        size: input size of the backbone.
        resize: resize mode.
        progress: show a progress bar while decoding.

    Returns:
        ``(images, labels)``: a read-only ``np.memmap`` ``(n, size, size, 3)``
        (an empty in-memory array for an empty split) and int64 label indices.
    """
    samples = dataset.samples(split)
    labels = np.array([s.label_index for s in samples], dtype="int64")
    if not samples:
        return np.zeros((0, size, size, 3), np.uint8), labels
    with dataset.open_cache() as cache:
        where, directory = cache.where(image_stage(size, resize)), cache.directory
        if where == "disk":
            cache.prune(image_stage(size, resize))  # entries of the old SQLite stage, never read
    if where == "disk":
        images, (hit, new) = kept_images(dataset, samples, split, size, resize,
                                         Path(directory) / FOLDER, progress)
        summary = f"cache: {hit:,} hit, {new:,} new"
    else:
        folder = None if dataset.cache_mode() == "none" else Path(directory) / FOLDER
        images = run_images(dataset, samples, size, resize, folder, progress)
        summary = f"cache: off for images (mode {dataset.cache_mode()})"
    print(f"{split} images {summary}", flush=True)
    return images, labels


def file_name(split, size, resize, keys):
    """The name of the images file of these sample keys, in this order."""
    digest = hashlib.sha256(f"{FORMAT}\n{size}\n{resize}\n".encode())
    for key in keys:
        digest.update(key.encode() + b"\n")
    return f"{split}-{size}-{resize}-{digest.hexdigest()[:16]}.npy"


def kept_images(dataset, samples, split, size, resize, folder, progress=True):
    """The images of ``samples`` from their file in ``folder``, built first if missing.

    Returns:
        ``(images, (hit, new))``: the read-only memmap, and how many rows were
        taken from files already there and how many decoded.
    """
    keys = [s.key for s in samples]
    path = folder / file_name(split, size, resize, keys)
    shape = (len(samples), size, size, 3)
    images = open_images(path, shape)
    counts = (len(samples), 0)
    if images is None:
        counts = build_file(path, dataset, samples, size, resize, progress)
        images = open_images(path, shape)
        if images is None:  # deleted the moment it was made: only by hand
            raise VergeMLError(f"the images file {path} vanished while it was being opened",
                               hint="Run the command again.")
    # After the images, so a .keys file never lacks them; best effort, as what follows: the
    # file is only a source of rows for the next build, and a read-only cache still serves.
    with contextlib.suppress(OSError):
        if not path.with_suffix(".keys").exists():
            atomic_write_text(path.with_suffix(".keys"), "".join(f"{key}\n" for key in keys))
    with contextlib.suppress(OSError):
        os.utime(path)  # most recently used: what clean_folder keeps
    clean_folder(folder, path)
    return images, counts


def open_images(path, shape):
    """The images file at ``path`` memory-mapped read-only, or None when it is
    missing or not of ``shape`` uint8 (then it is built again)."""
    try:
        images = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return None
    return images if images.shape == shape and images.dtype == np.uint8 else None


def build_file(path, dataset, samples, size, resize, progress=True):
    """Write the images of ``samples`` to ``path`` atomically.

    The temporary file is locked (``flock``) while it is written, so that
    :func:`clean_folder` of another run tells a build in progress from a dead one.

    Returns:
        ``(hit, new)``: rows copied from kept files, rows decoded.
    """
    handle = None
    try:
        with atomic_path(path) as tmp, contextlib.ExitStack() as opened:
            layout = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8,
                                               shape=(len(samples), size, size, 3))
            offset = layout.offset
            del layout  # header written, file sized; rows are written, never mapped
            handle = open(tmp, "r+b", buffering=0)  # closed after the move (finally)
            _lock(handle)
            sources = row_sources(path.parent, size, resize, opened)
            counts = fill(handle, offset, dataset, samples, size, resize, sources, progress)
            os.fsync(handle.fileno())
    finally:
        if handle is not None:
            handle.close()  # after the move: the lock covers the file until it has its name
    return counts


def run_images(dataset, samples, size, resize, folder=None, progress=True):
    """The images of ``samples`` in an unnamed temporary file, gone when the run ends.

    Args:
        folder: where the file lives (None: the system's temporary folder).

    Returns:
        A read-only ``np.memmap``.
    """
    if folder is not None:
        with writing(folder):
            folder.mkdir(parents=True, exist_ok=True)
    shape = (len(samples), size, size, 3)
    with writing(folder or tempfile.gettempdir()), \
            tempfile.TemporaryFile(dir=folder, buffering=0) as handle:
        handle.truncate(int(np.prod(shape)))
        fill(handle, 0, dataset, samples, size, resize, {}, progress)
        return np.memmap(handle, dtype=np.uint8, mode="r", shape=shape)


def fill(handle, offset, dataset, samples, size, resize, sources, progress=True):
    """Write each sample's row at ``offset + i * row bytes`` of ``handle`` (an unbuffered
    binary file open for reading and writing).

    A sample is copied from ``sources`` when found there, decoded otherwise; a key
    met before in ``samples`` (oversampled or duplicate files) is copied from
    its first row, so no image is decoded twice.

    Args:
        sources: ``key -> (open file, data offset, row)`` of kept files (:func:`row_sources`).

    Returns:
        ``(hit, new)``: rows not decoded, rows decoded.
    """
    row_bytes = size * size * 3
    first, copies, kept, missing = {}, [], [], []
    for index, sample in enumerate(samples):
        if sample.key in first:
            copies.append((first[sample.key], index))
        elif sample.key in sources:
            kept.append((sources[sample.key], index))
        else:
            missing.append(index)
        first.setdefault(sample.key, index)
    for (source, source_offset, row), index in kept:
        _copy(source, source_offset + row * row_bytes, handle, offset + index * row_bytes, row_bytes)
    decode_into(handle, offset, dataset, [samples[i] for i in missing], missing, size, resize,
                progress)
    for source, index in copies:
        _copy(handle, offset + source * row_bytes, handle, offset + index * row_bytes, row_bytes)
    return len(samples) - len(missing), len(missing)


def decode_into(handle, offset, dataset, samples, rows, size, resize, progress=True):
    """Decode ``samples`` on a thread pool, writing sample i to row ``rows[i]``.

    Memory holds a few batches at a time (``iter_pixel_batches``), never the split.
    """
    if not samples:
        return
    from tqdm import tqdm
    from vergeml.models.imagenet.extraction.pixel_batches import iter_pixel_batches
    row_bytes = size * size * 3
    batches = iter_pixel_batches(samples, lambda s: dataset.load_array(s, size, resize),
                                 DECODE_BATCH, (size, size, 3))
    with contextlib.closing(batches), \
            tqdm(total=len(samples), desc="Decoding images", unit="img", file=sys.stderr,
                 dynamic_ncols=True, disable=not progress) as bar:
        for indices, pixels in batches:
            for index, image in zip(indices, pixels):
                _write(handle, image, offset + rows[index] * row_bytes)
                faults.point("fine-tune.decode")
            bar.update(len(indices))


def row_sources(folder, size, resize, stack):
    """Rows of the kept files of ``size`` and ``resize`` (any split), by sample key.

    Args:
        folder: the images folder.
        stack: a :class:`contextlib.ExitStack` that closes the files opened.

    Returns:
        ``key -> (open file, data offset, row)``.
    """
    found = {}
    for path in sorted(folder.glob(f"*-{size}-{resize}-*.npy")):
        match = _NAME.fullmatch(path.name)
        if not match or match[2] != str(size) or match[3] != resize:
            continue
        try:
            keys = path.with_suffix(".keys").read_text(encoding="utf-8").split()
            images = np.load(path, mmap_mode="r")  # the header only: no page is read
            if images.shape != (len(keys), size, size, 3) or images.dtype != np.uint8:
                continue
            handle = stack.enter_context(open(path, "rb", buffering=0))
        except (OSError, ValueError):
            continue  # gone meanwhile (another run cleaned it) or unreadable: not a source
        for row, key in enumerate(keys):
            found.setdefault(key, (handle, images.offset, row))
    return found


def clean_folder(folder, current):
    """Delete what no run will read: the images files of ``current``'s split, size
    and resize mode beyond the :data:`KEEP` most recently used, ``.keys`` files
    without their images, and temporary files of a build that died.

    Best effort: a file another run deleted first, or a folder that refuses, is skipped.
    """
    group = current.name.rsplit("-", 1)[0] + "-"
    files = [p for p in folder.glob(f"{group}*.npy")
             if _NAME.fullmatch(p.name) and p.name.rsplit("-", 1)[0] + "-" == group]
    files.sort(key=_mtime, reverse=True)
    stale = [p for p in files[KEEP:] if p != current]
    # Names starting with a dot are temporary files (fileutil.atomic_path): never orphans.
    stale += [p for p in folder.glob("*.keys")
              if not p.name.startswith(".") and not p.with_suffix(".npy").exists()]
    stale += [p for pattern in (".*.tmp.npy", ".*.tmp.keys") for p in folder.glob(pattern)
              if _abandoned(p)]
    for path in stale:
        with contextlib.suppress(OSError):
            path.unlink()
            if path.suffix == ".npy" and not path.name.startswith("."):
                path.with_suffix(".keys").unlink()


def predict_images(model, extractor, images, batch_size=32, tta=False):
    """Class probabilities of uint8 images through the fused model, one batch at a time
    (a memmap stays on disk); with ``tta`` the mean over each image's views (:mod:`..tta`).
    """
    from vergeml.models.imagenet.tta import predict_in_batches
    if not len(images):
        return np.zeros((0, model.output_shape[-1]), "float32")
    preprocess = extractor.preprocess  # float32, a copy: the views stay untouched
    return predict_in_batches(lambda pixels: model.predict_on_batch(preprocess(pixels)),
                              images, batch_size, tta=tta)


# -- file helpers --------------------------------------------------------------------------

def _write(handle, data, position):
    """Write all of ``data`` at ``position`` of an unbuffered file (a short write is continued)."""
    view = memoryview(np.ascontiguousarray(data)).cast("B")
    handle.seek(position)
    while view:
        view = view[handle.write(view):]


def _copy(source, source_position, target, target_position, count):
    """Copy ``count`` bytes between unbuffered files (or within one) by position."""
    source.seek(source_position)
    data = bytearray()
    while len(data) < count and (chunk := source.read(count - len(data))):
        data += chunk
    if len(data) != count:
        raise OSError(f"images file ended early: {len(data)} of {count} bytes at {source_position}")
    _write(target, data, target_position)


def _lock(handle):
    """Hold an exclusive ``flock`` on our own new file (no-op without ``fcntl``)."""
    try:
        import fcntl
    except ImportError:
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def _abandoned(path):
    """Whether a temporary images file belongs to a build that died: not written
    for :data:`ABANDONED_AFTER` seconds and not locked (a live build holds its lock)."""
    try:
        import fcntl
        if time.time() - path.stat().st_mtime < ABANDONED_AFTER:
            return False
        handle = os.open(path, os.O_RDONLY)
    except (ImportError, OSError):
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(handle)


def _mtime(path):
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
