"""The neighbour search at scale (vergeml/doctor/neighbours.py): the tiles scanned on
several threads, with bars read before earlier tiles raised them, give exactly the
answer of one thread scanning in tile order (bench/bench_doctor_scale.py times it)."""
import threading
import time

import numpy as np
import pytest

from vergeml.doctor import neighbours
from vergeml.doctor.neighbours import _in_order, _search, _TileScan, _TopK, unit_rows


def clustered(n, dims=16, seed=0):
    """Features like a backbone's: clusters, exact copies (ties), near copies and a few far rows."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((12, dims)) * 3
    x = np.maximum(centres[rng.integers(0, 12, n)] + rng.standard_normal((n, dims)), 0).astype(np.float32)
    x[n // 2:n // 2 + n // 10] = x[:n // 10]                       # exact copies
    x[-n // 20:] = x[n // 10:n // 10 + n // 20] + np.float32(1e-3)   # near copies
    x[n // 3:n // 3 + 5] = rng.standard_normal((5, dims)) * 10     # far from everything
    return unit_rows(x)


def blocks(n, tile):
    starts = range(0, n, tile)
    return [(a, min(n, a + tile), c, min(n, c + tile)) for a in starts for c in starts if c >= a]


@pytest.mark.parametrize("n,k,tile", [(1500, 10, 128), (1000, 5, 96), (700, 20, 64)])
def test_threads_give_the_answer_of_one_thread(n, k, tile):
    x = clustered(n)
    one = _search(x, k, tile, workers=1)
    for workers in (2, 3):
        many = _search(x, k, tile, workers=workers)
        np.testing.assert_array_equal(many.indices, one.indices)   # ties broken the same way too
        np.testing.assert_array_equal(many.sims, one.sims)


def test_bars_read_before_any_merge_give_the_same_answer(monkeypatch):
    """The extreme of a worker running ahead: every tile's candidates taken with the first
    bars, then merged in tile order; the merge's own bar makes it the in-order scan."""
    n, k, tile = 900, 10, 100
    monkeypatch.setattr(neighbours, "SAMPLE", 60)                 # low first bars
    x = clustered(n, seed=3)
    exact = _search(x, k, tile, workers=1)
    top = _TopK(n, k, neighbours._lower_bound(x, k, tile))
    scan = _TileScan(x, top.threshold.copy(), tile)               # bars frozen at the start
    found = [scan(block) for block in blocks(n, tile)]
    assert sum(len(rows) for rows, _, _ in found) > 2 * n * k    # many more candidates than merged
    for candidates in found:
        top.merge(*candidates)
    neighbours._fill_missing(x, top)
    np.testing.assert_array_equal(top.indices, exact.indices)
    np.testing.assert_array_equal(top.sims, exact.sims)


def test_the_scan_equals_the_full_matrix():
    n, k = 1200, 10
    x = clustered(n, seed=5)
    found = _search(x, k, 128, workers=2)
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    best = -np.sort(-sims, axis=1)[:, :k]
    np.testing.assert_allclose(found.sims, best, atol=1e-5)
    # Every neighbour returned is at least as close as the k-th best (ties may pick either).
    got = np.take_along_axis(sims, found.indices, axis=1)
    assert (got >= best[:, -1:] - 1e-5).all()
    assert (found.indices != np.arange(n)[:, None]).all()


def test_nearest_uses_the_threads_and_keeps_its_answer(monkeypatch):
    x = clustered(800, seed=7)
    neighbours._LAST.clear()
    monkeypatch.setattr(neighbours, "_workers", lambda wanted, count: 1)
    one = neighbours.nearest(x, 10, tile=100)
    neighbours._LAST.clear()
    monkeypatch.setattr(neighbours, "_workers", lambda wanted, count: 2)
    two = neighbours.nearest(x, 10, tile=100)
    np.testing.assert_array_equal(one.indices, two.indices)
    np.testing.assert_array_equal(one.sims, two.sims)


def test_in_order_keeps_the_order_and_few_results_waiting():
    started, taken, most = [], [], [0]
    lock = threading.Lock()

    def work(item):
        with lock:
            started.append(item)
            most[0] = max(most[0], len(started) - len(taken))
        time.sleep(0.002 * (item % 3))
        return item * item
    for item, result in zip(range(40), _in_order(work, range(40), workers=2)):
        assert result == item * item
        taken.append(item)
    assert len(taken) == 40
    assert most[0] <= 2 * 2 + 2          # the window, plus the one a worker just started


def test_one_worker_for_one_tile():
    assert neighbours._workers(None, 1) == 1
    assert neighbours._workers(2, 10) == 2
    assert neighbours._workers(None, 1000) >= 1


def test_blas_runs_one_thread_per_tile_while_the_workers_run():
    from threadpoolctl import threadpool_info
    seen = []

    def work(item):
        seen.append(max([pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"],
                        default=1))
        return item
    list(_in_order(work, range(4), workers=2))
    assert seen and max(seen) == 1
