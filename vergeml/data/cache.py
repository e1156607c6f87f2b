"""The cache of processed arrays: preprocessed images and backbone features.

Arrays are stored per ``(stage, key)``. ``key`` is a content-addressed
sample key (:func:`vergeml.data.fingerprint.sample_key`), so an entry can
only ever be found for exactly the input it was computed from: a stale entry
is unreachable by construction. ``stage`` says what the array is:

- ``input:<size>:<mode>``: a sample after the preprocessing operations,
  resized to ``size`` (see :func:`input_stage`);
- anything else, e.g. ``features:<backbone key>``: model outputs; the
  model layer puts architecture, size, output layer and weights in it.

Cache modes (global option ``cache``, or ``data.cache``):

======== ================================ ===========================
mode     features (any non-input stage)   input images (``input:*``)
======== ================================ ===========================
auto     disk                             not cached
disk     disk                             not cached
mem      memory (this run only)           not cached
disk-in  not cached                       disk
mem-in   not cached                       memory (this run only)
none     not cached                       not cached
======== ================================ ===========================
"""
import threading

import numpy as np

from vergeml.data.formats import CACHE_MODES
from vergeml.data.store import Store

MODES = CACHE_MODES
FLUSH_COUNT = 256
FLUSH_BYTES = 32 * 1024 * 1024
_SELECT_CHUNK = 500


def input_stage(size=None, resize_mode="fill"):
    """Stage name of preprocessed input images at a size (None = as the ops leave them)."""
    return f"input:{size}:{resize_mode}" if size else "input:orig"


def is_input_stage(stage):
    return stage.startswith("input:")


class _Counts:
    __slots__ = ("hit", "new", "pruned", "seen")

    def __init__(self):
        self.hit, self.new, self.pruned, self.seen = 0, 0, 0, set()


class Cache:
    """Cache of arrays by stage and key; use as a context manager.

    Thread-safe: ``get_many``/``put`` may be called from data-loading workers.

    Args:
        mode: one of :data:`MODES`.
        directory: the cache directory (for the disk modes).
    """

    def __init__(self, mode="auto", directory=None):
        if mode not in MODES:
            raise ValueError(f"unknown cache mode {mode!r}")
        self.mode = "disk" if mode == "auto" else mode
        self.directory = directory
        self._lock = threading.RLock()
        self._counts = {}
        self._buffer, self._buffer_bytes = {}, 0
        self._memory = {}
        self._final = None
        uses_disk = self.mode in ("disk", "disk-in")
        self._store = Store(directory) if uses_disk else None

    # -- context manager -------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        """Commit buffered entries and release the database.

        Statistics stay available afterwards (frozen at closing time).
        """
        with self._lock:
            if self._store is not None:
                try:
                    self.flush()
                    self._final = {stage: self.stats(stage) for stage in self._counts}
                finally:
                    self._store.close()
                    self._store = None

    # -- queries ---------------------------------------------------------------

    def where(self, stage):
        """Where a stage is cached: ``disk``, ``mem`` or ``None``."""
        wanted_input = self.mode.endswith("-in")
        if self.mode == "none" or is_input_stage(stage) != wanted_input:
            return None
        return "mem" if self.mode.startswith("mem") else "disk"

    def enabled(self, stage):
        """Whether arrays of this stage are cached at all in this mode."""
        return self.where(stage) is not None

    def get(self, stage, key):
        """One cached array, or None (counts a hit when found)."""
        return self.get_many(stage, [key]).get(key)

    def get_many(self, stage, keys):
        """Look up arrays; request in batches to keep memory flat.

        Args:
            stage: the stage name.
            keys: sample keys.

        Returns:
            dict key -> ``np.ndarray`` for the keys found (hits only); the
            arrays are the caller's own, free to modify.
        """
        keys = list(keys)
        with self._lock:
            counts = self._count(stage)
            counts.seen.update(keys)
            found = self._lookup(stage, keys)
            counts.hit += len(found)
        return found

    def _lookup(self, stage, keys):
        where = self.where(stage)
        if where is None:
            return {}
        if where == "mem":
            table = self._memory.get(stage, {})
            return {k: table[k].copy() for k in keys if k in table}
        found = {k: _decode(*self._buffer[(stage, k)]) for k in keys if (stage, k) in self._buffer}
        missing = [k for k in keys if k not in found]
        for start in range(0, len(missing), _SELECT_CHUNK):
            chunk = missing[start:start + _SELECT_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, shape, dtype, data in self._store.read(
                    f"SELECT key, shape, dtype, data FROM entries WHERE stage = ? AND key IN ({marks})",
                    [stage, *chunk]):
                found[key] = _decode(shape, dtype, data)
        return found

    # -- writes ----------------------------------------------------------------

    def put(self, stage, key, array):
        """Store an array (buffered; committed in batches, on flush and on close)."""
        with self._lock:
            counts = self._count(stage)
            counts.seen.add(key)
            counts.new += 1
            where = self.where(stage)
            if where == "mem":
                self._memory.setdefault(stage, {})[key] = np.array(array, copy=True)
            elif where == "disk":
                record = _encode(array)
                self._buffer[(stage, key)] = record
                self._buffer_bytes += len(record[2])
                if len(self._buffer) >= FLUSH_COUNT or self._buffer_bytes >= FLUSH_BYTES:
                    self.flush()

    def flush(self):
        """Commit buffered entries in one transaction."""
        with self._lock:
            if not self._buffer or self._store is None:
                return
            rows = [(stage, key, shape, dtype, data)
                    for (stage, key), (shape, dtype, data) in self._buffer.items()]
            self._store.write([("INSERT OR REPLACE INTO entries(stage, key, shape, dtype, data, created) "
                                "VALUES (?, ?, ?, ?, ?, julianday('now'))", rows)])
            self._buffer, self._buffer_bytes = {}, 0

    def prune(self, stage):
        """Delete entries of a stage that this run did not ask for.

        Call only after every sample's key of the stage was requested;
        entries of a changed or removed sample are unreachable and just
        take space.

        Returns:
            number of entries deleted.
        """
        with self._lock:
            if self.where(stage) == "mem":
                table = self._memory.get(stage, {})
                stale = [k for k in table if k not in self._count(stage).seen]
                for key in stale:
                    del table[key]
                self._count(stage).pruned += len(stale)
                return len(stale)
            if self.where(stage) != "disk":
                return 0
            self.flush()
            stale = list(self._stale_keys(stage))
            for start in range(0, len(stale), _SELECT_CHUNK):
                self._store.write([("DELETE FROM entries WHERE stage = ? AND key = ?",
                                    [(stage, k) for k in stale[start:start + _SELECT_CHUNK]])])
            if stale:
                self._store.reclaim()
            self._count(stage).pruned += len(stale)
            return len(stale)

    # -- statistics ------------------------------------------------------------

    def stats(self, stage):
        """Counts for a stage: ``dict(hit=, new=, stale=)``.

        ``stale`` counts stored entries this run did not ask for (their sample
        changed or is gone, or an option changed), including those already
        pruned; they are never used.
        """
        with self._lock:
            if self._store is None and self._final is not None:
                return dict(self._final.get(stage, {"hit": 0, "new": 0, "stale": 0}))
            counts = self._count(stage)
            return {"hit": counts.hit, "new": counts.new,
                    "stale": counts.pruned + self._stale_count(stage)}

    def summary(self, stage, stale=True):
        """One line such as ``cache: 1,203 hit, 12 new, 0 stale``.

        Args:
            stale: include the stale count (meaningful only after every
                sample's key was requested).
        """
        if not self.enabled(stage):
            return f"cache: off for {stage.split(':')[0]} (mode {self.mode})"
        if not stale:
            counts = self._count(stage)
            return f"cache: {counts.hit:,} hit, {counts.new:,} new"
        stats = self.stats(stage)
        return f"cache: {stats['hit']:,} hit, {stats['new']:,} new, {stats['stale']:,} stale"

    def _count(self, stage):
        if stage not in self._counts:
            self._counts[stage] = _Counts()
        return self._counts[stage]

    def _stale_count(self, stage):
        where = self.where(stage)
        if where == "mem":
            seen = self._count(stage).seen
            return sum(1 for k in self._memory.get(stage, {}) if k not in seen)
        if where == "disk":
            self.flush()
            return sum(1 for _ in self._stale_keys(stage))
        return 0

    def _stale_keys(self, stage):
        """Stored keys not seen this run, read page by page (keyset pagination)."""
        seen, last = self._count(stage).seen, ""
        while True:
            rows = self._store.read("SELECT key FROM entries WHERE stage = ? AND key > ? "
                                    "ORDER BY key LIMIT 2000", (stage, last))
            if not rows:
                return
            for (key,) in rows:
                if key not in seen:
                    yield key
            last = rows[-1][0]


def _encode(array):
    array = np.ascontiguousarray(array)
    return ",".join(map(str, array.shape)), array.dtype.str, array.tobytes()


def _decode(shape, dtype, data):
    dims = tuple(int(d) for d in shape.split(",")) if shape else ()
    # Copy: frombuffer over bytes is read-only, and callers may modify arrays.
    return np.frombuffer(data, dtype=np.dtype(dtype)).reshape(dims).copy()
