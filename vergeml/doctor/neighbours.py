"""The nearest neighbours of every sample in feature space (cosine similarity).

Duplicates, outliers and the label kNN all ask the same question: which
samples are closest to each one, and how close. :func:`nearest` answers it
exactly, for every row at once, on L2-normalised features (so the dot product
is the cosine similarity).

Why an exact search on BLAS and not hnswlib or faiss: for the sizes a project
holds (up to ~100,000 images) the exact search meets the target (100,000 x 256
in under a minute on two cores) with what is already installed, its
answer does not depend on build parameters or insertion order, and a
near-duplicate or an outlier is never missed because an approximate graph did
not reach it. scikit-learn's ``NearestNeighbors(algorithm="brute")`` is exact
too, but it computes float32 distances in float64 and keeps every row's heap
in its loop, which made it about twice as slow here; the unit tests check this
module against it.

How it stays fast and flat: the similarity matrix is computed in square tiles
of :data:`TILE` rows (float32 GEMM), only on and above the diagonal (it is
symmetric, so each tile feeds the rows on both sides). A tile costs one GEMM
and one comparison with the lower of its row's and the tile's lowest column
bar (the current k-th best); the few entries that pass are sorted out with
both bars and merged into the running top k. A lower bound of each row's k-th
best, taken from a fixed sample of columns first, keeps the candidates few
from the first tile on. The tiles run on one thread per core, each GEMM on one
BLAS thread, and are merged in tile order, which makes the answer, ties
included, that of one thread (see :class:`_TileScan`). 100,000 x 256: about
35 s of CPU, under a minute on two busy cores (``bench/bench_doctor_scale.py``).
Memory: the features, ``n x k`` results and one tile (16 MB) per thread.
"""
from collections import namedtuple

TILE = 2048
"""Rows (and columns) of one similarity tile: 2048 x 2048 float32 is 16 MB."""

SAMPLE = 1024
"""Columns of the sample that gives each row a first lower bound of its k-th best."""

SLACK = 1e-3
"""How far below the sample's k-th best the first bar is set (float32 rounding is ~1e-6)."""

Neighbours = namedtuple("Neighbours", "indices sims")
Neighbours.__doc__ = """The k nearest neighbours of every row, nearest first.

Attributes:
    indices: ``int64`` array ``(n, k)``: row numbers; a row is never its own neighbour.
    sims: ``float32`` array ``(n, k)``: the cosine similarity to each, descending.
"""


def unit_rows(features):
    """The rows of ``features`` scaled to length 1 (an all-zero row stays zero).

    Args:
        features: array-like ``(n, d)``.

    Returns:
        A C-contiguous ``float32`` array ``(n, d)``.
    """
    import numpy as np
    x = np.array(features, dtype=np.float32, order="C")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x /= np.maximum(norms, np.float32(1e-12))
    return x


def nearest(features, k=10, tile=TILE):
    """The ``k`` nearest neighbours of every row by cosine similarity (exact).

    The last answer is kept: the duplicate and outlier finders ask the same
    question of the same features, and it is answered once.

    Args:
        features: array-like ``(n, d)``; normalised here.
        k: neighbours per row; at most ``n - 1`` are returned.
        tile: rows and columns of one similarity tile (memory: ``4 * tile**2`` bytes).

    Returns:
        :class:`Neighbours` with arrays of shape ``(n, min(k, n - 1))`` (the
        caller's own copies).
    """
    import hashlib
    x = unit_rows(features)
    # A digest of the whole array (0.1 s for 100,000 x 256), never its address: an
    # array freed and another made in its place must not be taken for it.
    key = (hashlib.blake2b(x.tobytes(), digest_size=16).digest(), x.shape, int(k), tile)
    if _LAST.get("key") != key:
        _LAST.clear()
        _LAST.update(key=key, found=_search(x, k, tile))
    found = _LAST["found"]
    return Neighbours(found.indices.copy(), found.sims.copy())


_LAST = {}


def _search(x, k, tile, workers=None):
    """:func:`nearest` on rows already of length 1 (``workers``: threads; None: one per core)."""
    n = len(x)
    k = max(0, min(int(k), n - 1))
    top = _TopK(n, k, _lower_bound(x, k, tile))
    if k:
        starts = range(0, n, tile)
        blocks = [(a, min(n, a + tile), c, min(n, c + tile)) for a in starts for c in starts if c >= a]
        scan = _TileScan(x, top.threshold, min(tile, n))
        for found in _in_order(scan, blocks, _workers(workers, len(blocks))):
            top.merge(*found)
        _fill_missing(x, top)
    return Neighbours(top.indices, top.sims)


def _workers(wanted, blocks):
    """Threads for the tiles: one per core this process may use (one when there is a single tile)."""
    import os
    if wanted is None:
        wanted = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(int(wanted), blocks))


def _in_order(work, items, workers):
    """``work(item)`` for every item, on ``workers`` threads, yielded in the order of ``items``.

    At most ``2 * workers`` results wait to be taken (memory stays flat). With
    several workers, BLAS runs one thread per call: two single-threaded GEMMs
    side by side are faster than one two-threaded GEMM at a time (whose threads
    wait for each other, the more so on a loaded machine), and the tiles' NumPy
    reductions, single-threaded anyway, run side by side too.
    """
    if workers <= 1:
        yield from map(work, items)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
        pending = deque()
        for item in items:
            pending.append(pool.submit(work, item))
            if len(pending) > 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _fill_missing(x, top):
    """Search the rows again, in full, that the scan left short (should rounding ever beat SLACK)."""
    import numpy as np
    for row in np.flatnonzero((top.indices < 0).any(axis=1)):
        sims = x @ x[row]
        sims[row] = -np.inf
        best = np.argsort(-sims, kind="stable")[:top.k]
        top.indices[row], top.sims[row] = best, sims[best]


def _lower_bound(x, k, tile):
    """Per row, a value at or below its true k-th best similarity.

    The k-th best over a fixed sample of columns (the row itself left out) can
    only be lower than the k-th best over all of them. It is moved down by
    :data:`SLACK`: the scan's GEMM may round the same dot product differently
    (another blocking), and the true k-th, which may be in the sample, must
    still pass the scan's strict ``>``.
    """
    import numpy as np
    n = len(x)
    bound = np.full(n, -np.inf, np.float32)
    sample = np.unique(np.linspace(0, n - 1, min(n, SAMPLE)).astype(np.int64))
    if k == 0 or len(sample) <= k:
        return bound
    for a in range(0, n, tile):
        b = min(n, a + tile)
        sims = x[a:b] @ x[sample].T
        rows, cols = np.nonzero(sample[None, :] == np.arange(a, b)[:, None])
        sims[rows, cols] = -np.inf
        bound[a:b] = np.partition(sims, len(sample) - k, axis=1)[:, len(sample) - k]
    return bound - np.float32(SLACK)


class _TileScan:
    """The candidates of one tile (rows ``a:b`` x columns ``c:d``), both ways: ``(rows, columns, values)``.

    Called from several threads at once: each thread has its own tile buffer.
    The bars are read as they stand, possibly before the merges of earlier
    tiles raised them: a lower bar only lets more candidates through, and
    :meth:`_TopK.merge` drops those its current bar stops, so the merged
    candidates, and the result, are those of a scan in tile order.
    """

    def __init__(self, x, threshold, side):
        import threading
        self.x, self.threshold, self.side = x, threshold, side
        self.local = threading.local()

    def __call__(self, block):
        import numpy as np
        a, b, c, d = block
        if not hasattr(self.local, "buffer"):
            self.local.buffer = np.empty(self.side ** 2, np.float32)
        x, threshold = self.x, self.threshold
        sims = self.local.buffer[:(b - a) * (d - c)].reshape(b - a, d - c)
        np.matmul(x[a:b], x[c:d].T, out=sims)
        if a == c:
            np.fill_diagonal(sims, -np.inf)
            rows, cols, values = _above_by_row(sims, threshold[a:b])
            return rows + a, cols + c, values
        rows, cols, values, by_row, by_column = _above_either(sims, threshold[a:b], threshold[c:d])
        found = [(rows[by_row] + a, cols[by_row] + c, values[by_row]),
                 (cols[by_column] + c, rows[by_column] + a, values[by_column])]
        return tuple(np.concatenate(part) for part in zip(*found))


def _above_by_row(sims, threshold):
    """``(row, column, value)`` of the entries of ``sims`` above their row's threshold.

    A max reduction is a tenth of the cost of the full comparison, so the
    comparison runs only on the rows whose maximum passes (late in the scan,
    few do).
    """
    import numpy as np
    rows = np.flatnonzero(sims.max(axis=1) > threshold)
    part = sims[rows] if len(rows) < len(sims) else sims
    # flatnonzero on the flat mask: ten times faster than a 2-D nonzero.
    flat = np.flatnonzero(part > threshold[rows, None])
    hit_rows, cols = np.divmod(flat, sims.shape[1])
    return rows[hit_rows], cols, part.ravel()[flat]


def _above_either(sims, row_bar, column_bar):
    """The entries of ``sims`` above their row's bar or their column's: ``(row, column, value,
    above the row's, above the column's)``, by row, then column.

    One comparison of the tile: an entry above either bar is above the lower
    of its row's bar and the lowest column bar; the few that pass are then
    sorted out with both bars.
    """
    import numpy as np
    bar = np.minimum(row_bar, column_bar.min())
    flat = np.flatnonzero(sims > bar[:, None])
    rows, cols = np.divmod(flat, sims.shape[1])
    values = sims.ravel()[flat]
    return rows, cols, values, values > row_bar[rows], values > column_bar[cols]


class _TopK:
    """The running best ``k`` neighbours of every row, and the bar a new one must pass."""

    def __init__(self, n, k, bound):
        import numpy as np
        self.k = k
        self.indices = np.full((n, k), -1, np.int64)
        self.sims = np.full((n, k), -np.inf, np.float32)
        self.bound = bound
        self.threshold = bound.copy()

    def merge(self, rows, cols, values):
        """Add candidates ``(row, neighbour, similarity)``; keep each row's best k."""
        import numpy as np
        passing = values > self.threshold[rows]   # what the bar stops now (see _TileScan)
        if not passing.all():
            rows, cols, values = rows[passing], cols[passing], values[passing]
        if not len(rows):
            return
        k = self.k
        touched = np.unique(rows)
        all_rows = np.concatenate([rows, np.repeat(touched, k)])
        all_sims = np.concatenate([values, self.sims[touched].ravel()])
        all_cols = np.concatenate([cols, self.indices[touched].ravel()])
        # One float64 key (row, then descending similarity) sorts several times faster
        # than a lexsort; similarities are in [-1, 1], the empty slots' -inf is clipped.
        order = np.argsort(all_rows * 4.0 + (1.5 - np.maximum(all_sims, -1.5)))
        all_rows, all_sims, all_cols = all_rows[order], all_sims[order], all_cols[order]
        starts = np.searchsorted(all_rows, touched)
        counts = np.diff(np.append(starts, len(all_rows)))
        keep = np.arange(len(all_rows)) - np.repeat(starts, counts) < k
        self.sims[touched] = all_sims[keep].reshape(-1, k)
        self.indices[touched] = all_cols[keep].reshape(-1, k)
        self.threshold[touched] = np.maximum(self.bound[touched], self.sims[touched, -1])
