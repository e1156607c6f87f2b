"""Content digests of sample files, cache keys and the data-set fingerprint.

A file is read again only when its size or mtime changed since it was last
digested: ``files`` rows remember ``(size, mtime_ns) -> digest``. Whether a
file decodes is remembered per content digest (``verdicts``), so an
unchanged, renamed or copied image is never decoded again to check it.
"""
import hashlib
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from tqdm import tqdm

from vergeml import faults
from vergeml.data import images

# Bump when anything changes how a cached array is computed from its inputs.
CACHE_FORMAT_VERSION = 1
# A file modified this close to when it was digested may change again within
# the same mtime tick; such rows are re-read next time (the "racy git" problem).
RACY_NS = 2_000_000_000
WRITE_BATCH = 500
CHUNK = 64
PROGRESS_MIN = 100
BAD_NAME = "file name is not valid UTF-8 (rename it)"


@dataclass(frozen=True)
class FileInfo:
    """Digest and readability of one file.

    Attributes:
        digest: sha256 hex of the content ('' when unreadable).
        reason: '' when the image decodes, else why not.
    """

    digest: str
    reason: str


def file_digest(data):
    """sha256 hex digest of bytes."""
    return hashlib.sha256(data).hexdigest()


def sample_key(digest, ops_config, random_part=None):
    """Cache key of one processed sample.

    Args:
        digest: content digest of the source file.
        ops_config: configs of the operations that change pixels, in order.
        random_part: ``[seed, relpath, variant]`` when random operations
            draw for this sample, else None (then the key is independent of
            the file's name, so renames and copies hit the cache).

    Returns:
        sha256 hex string; it names the pixel path (:data:`images.PIXEL_PATH`), so
        arrays cached by another decode and resize are never read back.
    """
    return digest_of([CACHE_FORMAT_VERSION, images.PIXEL_PATH, digest, ops_config, random_part])


def digest_of(value):
    """sha256 hex of a JSON-serialisable value (keys sorted, so order-free)."""
    return hashlib.sha256(_json(value)).hexdigest()


def _json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")


class Fingerprint:
    """Incremental digest over everything that affects the inputs."""

    def __init__(self, header):
        self._hash = hashlib.sha256(_json([CACHE_FORMAT_VERSION, header]))

    def add(self, *parts):
        """Add one record (e.g. a sample's relpath, digest, label, split)."""
        self._hash.update(_json(parts))
        self._hash.update(b"\n")

    def hexdigest(self):
        return self._hash.hexdigest()


class FileIndex:
    """Digests and checks sample files, remembering results in the store.

    Args:
        store: a :class:`vergeml.data.store.Store`.
        workers: threads for reading/decoding (hashing and decoding release the GIL).
        remember: write what was checked back to the store (off: read only,
            for a command that must leave the cache as it found it).
    """

    def __init__(self, store, workers=None, remember=True):
        self.store = store
        self.workers = workers or min(4, os.cpu_count() or 1)
        self.remember = remember

    def check(self, paths, progress=True):
        """Digest every file and find out whether it decodes.

        Args:
            paths: absolute paths (str) of the sample files.
            progress: show a progress bar when many files need reading.

        Returns:
            list of :class:`FileInfo`, parallel to ``paths``.
        """
        known = {row[0]: row[1:] for row in self.store.read(
            "SELECT path, size, mtime_ns, digest, checked_ns FROM files")}
        verdicts = dict(self.store.read("SELECT digest, reason FROM verdicts"))
        results, todo = [None] * len(paths), []
        for index, path in enumerate(paths):
            if not _encodable(path):
                # The database (and every file the run writes) holds names as UTF-8.
                results[index] = FileInfo("", BAD_NAME)
                continue
            stat = _stat(path)
            row = known.get(path)
            if stat and row and _trusted(row, stat) and row[2] in verdicts:
                results[index] = FileInfo(row[2], verdicts[row[2]])
            else:
                todo.append((index, path, stat))
        self._process(todo, results, verdicts, progress)
        self._forget_missing(known, paths)
        return results

    def _process(self, todo, results, verdicts, progress):
        bar = tqdm(total=len(todo), desc="Checking images", unit="img", file=sys.stderr,
                   disable=True if not progress or len(todo) < PROGRESS_MIN else None)
        pending_files, pending_verdicts = [], []
        pool = ThreadPoolExecutor(self.workers)
        try:
            with bar:
                # Chunks bound the queued work, so Ctrl-C stops within one chunk.
                for start in range(0, len(todo), CHUNK):
                    chunk = todo[start:start + CHUNK]
                    paths = [path for _, path, _ in chunk]
                    examined = pool.map(partial(_examine, verdicts=verdicts), paths)
                    for (index, path, stat), (digest, reason, checked) in zip(chunk, examined):
                        results[index] = FileInfo(digest, reason)
                        if stat and digest:
                            pending_files.append((path, stat.st_size, stat.st_mtime_ns, digest, checked))
                            if digest not in verdicts:
                                verdicts[digest] = reason
                                pending_verdicts.append((digest, reason))
                        bar.update(1)
                    faults.point("fingerprint.chunk")
                    if len(pending_files) >= WRITE_BATCH:
                        self._save(pending_files, pending_verdicts)
        finally:
            # Keep what was checked before an interruption: the next run resumes there.
            pool.shutdown(wait=True, cancel_futures=True)
            self._save(pending_files, pending_verdicts)

    def _save(self, files, verdicts):
        if self.remember and (files or verdicts):
            self.store.write([
                ("INSERT OR REPLACE INTO files(path, size, mtime_ns, digest, checked_ns) "
                 "VALUES (?, ?, ?, ?, ?)", list(files)),
                ("INSERT OR REPLACE INTO verdicts(digest, reason) VALUES (?, ?)", list(verdicts)),
            ])
            files.clear()
            verdicts.clear()

    def _forget_missing(self, known, paths):
        """Drop rows of files that are gone, so the table does not grow forever."""
        present = set(paths)
        gone = [(p,) for p in known if p not in present and not os.path.exists(p)]
        if gone and self.remember:
            self.store.write([("DELETE FROM files WHERE path = ?", gone)])


def _encodable(path):
    """Whether a path is valid UTF-8 (names read from a non-UTF-8 disk carry
    surrogate escapes, which SQLite, YAML and CSV cannot store)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(name):
    """A file name for messages: undecodable bytes shown as ``\\xff`` escapes."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _stat(path):
    try:
        return os.stat(path)
    except OSError:
        return None


def _trusted(row, stat):
    size, mtime_ns, _, checked_ns = row
    return (size == stat.st_size and mtime_ns == stat.st_mtime_ns
            and checked_ns - mtime_ns > RACY_NS)


def _examine(path, verdicts):
    """Read and digest a file; decode it unless the verdict on its digest is known.

    Returns:
        ``(digest, reason, checked_ns)``; digest '' when the file cannot be read.
    """
    checked = time.time_ns()
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        return "", f"cannot read file: {err.strerror or err}", checked
    digest = file_digest(data)
    reason = verdicts.get(digest)
    if reason is None:
        reason = images.verify_image(data, path)
    return digest, reason, checked
