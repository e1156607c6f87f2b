"""The array cache: modes, counters, persistence, concurrency, crash safety (a writer
killed in a child process: tests/e2e/test_data_cache.py)."""
import sqlite3
import threading

import numpy as np
import pytest

from vergeml.data.cache import Cache, input_stage
from vergeml.data.store import DB_NAME

from tests.unit.test_data_helpers import arr

FEAT = "features:mobilenet-0.25-224-last"


@pytest.mark.parametrize("mode,features,inputs", [
    ("auto", "disk", None), ("disk", "disk", None), ("mem", "mem", None),
    ("disk-in", None, "disk"), ("mem-in", None, "mem"), ("none", None, None)])
def test_modes_decide_what_is_cached(tmp_path, mode, features, inputs):
    with Cache(mode, tmp_path) as cache:
        assert cache.where(FEAT) == features
        assert cache.where(input_stage(64, "fill")) == inputs
    assert (tmp_path / DB_NAME).exists() == ("disk" in (features, inputs))


def test_disk_round_trip_and_persistence(tmp_path):
    with Cache("disk", tmp_path) as cache:
        cache.put(FEAT, "a", arr(1))
        cache.put(FEAT, "b", np.arange(12, dtype=np.uint8).reshape(2, 2, 3))
        assert cache.get_many(FEAT, ["a"])["a"].tolist() == [1, 1, 1, 1]  # buffered, still visible
    with Cache("disk", tmp_path) as cache:
        found = cache.get_many(FEAT, ["a", "b", "c"])
        assert set(found) == {"a", "b"}
        assert found["b"].dtype == np.uint8 and found["b"].shape == (2, 2, 3)
        assert found["a"].dtype == np.float32
        found["b"][0, 0, 0] = 99  # arrays are writable copies
        assert cache.get_many(FEAT, ["x"]) == {} and cache.get_many("features:other", ["a"]) == {}


def test_counts_and_summary(tmp_path):
    with Cache("disk", tmp_path) as cache:
        for i in range(1500):
            cache.put(FEAT, f"k{i}", arr(i))
    with Cache("disk", tmp_path) as cache:
        hits = cache.get_many(FEAT, [f"k{i}" for i in range(1203)] + ["n1", "n2"])
        assert len(hits) == 1203
        cache.put(FEAT, "n1", arr(1))
        cache.put(FEAT, "n2", arr(2))
        assert cache.stats(FEAT) == {"hit": 1203, "new": 2, "stale": 297}
        assert cache.summary(FEAT) == "cache: 1,203 hit, 2 new, 297 stale"
        assert cache.prune(FEAT) == 297
        assert cache.stats(FEAT)["stale"] == 297  # still reported for this run
    with Cache("disk", tmp_path) as cache:
        cache.get_many(FEAT, [f"k{i}" for i in range(1203)] + ["n1", "n2"])
        assert cache.stats(FEAT) == {"hit": 1205, "new": 0, "stale": 0}


def test_mem_mode_lives_for_one_run(tmp_path):
    with Cache("mem", tmp_path) as cache:
        cache.put(FEAT, "a", arr(1))
        assert cache.get(FEAT, "a") is not None
        assert cache.summary(FEAT) == "cache: 1 hit, 1 new, 0 stale"
    with Cache("mem", tmp_path) as cache:
        assert cache.get(FEAT, "a") is None


def test_none_mode_stores_nothing(tmp_path):
    with Cache("none", tmp_path / "c") as cache:
        cache.put(FEAT, "a", arr(1))
        assert cache.get(FEAT, "a") is None
        assert cache.summary(FEAT).startswith("cache: off")
    assert not (tmp_path / "c").exists()


def test_two_writers_do_not_corrupt(tmp_path):
    caches = [Cache("disk", tmp_path) for _ in range(2)]

    def fill(cache, tag):
        for i in range(600):
            cache.put(FEAT, f"{tag}{i}", arr(i, shape=(64,)))
            if i % 50 == 0:
                cache.flush()
        cache.close()
    threads = [threading.Thread(target=fill, args=(c, t)) for c, t in zip(caches, "xy")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with Cache("disk", tmp_path) as cache:
        found = cache.get_many(FEAT, [f"{t}{i}" for t in "xy" for i in range(600)])
        assert len(found) == 1200 and found["y599"][0] == 599


def test_damaged_database_is_set_aside(tmp_path, capsys):
    (tmp_path / DB_NAME).write_bytes(b"this is not a database" * 100)
    with Cache("disk", tmp_path) as cache:
        cache.put(FEAT, "a", arr(1))
    warned = capsys.readouterr().err
    assert list(tmp_path.glob(f"{DB_NAME}.damaged-*")) and "unreadable" in warned
    with Cache("disk", tmp_path) as cache:
        assert cache.get(FEAT, "a") is not None


def test_exception_mid_build_keeps_committed_entries(tmp_path):
    with pytest.raises(RuntimeError):
        with Cache("disk", tmp_path) as cache:
            for i in range(700):
                if i == 650:
                    raise RuntimeError("boom")
                cache.put(FEAT, f"k{i}", arr(i))
    with Cache("disk", tmp_path) as cache:
        found = cache.get_many(FEAT, [f"k{i}" for i in range(700)])
        assert len(found) == 650 and all(found[k][0] == int(k[1:]) for k in found)


def test_prune_gives_space_back(tmp_path):
    with Cache("disk", tmp_path) as cache:
        for i in range(200):
            cache.put(FEAT, f"k{i}", arr(i, shape=(5000,)))
    full = (tmp_path / DB_NAME).stat().st_size
    with Cache("disk", tmp_path) as cache:
        cache.get_many(FEAT, ["k0"])
        assert cache.prune(FEAT) == 199
    assert (tmp_path / DB_NAME).stat().st_size < full / 10


def test_locked_database_is_an_error_and_is_not_set_aside(tmp_path, monkeypatch):
    from vergeml.data import store
    from vergeml.errors import VergeMLError
    store.Store(tmp_path).close()
    other = sqlite3.connect(tmp_path / DB_NAME, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another run holding the write lock
    monkeypatch.setattr(store, "BUSY_TIMEOUT_MS", 100)
    try:
        with pytest.raises(VergeMLError, match="cannot use the cache database.*locked"):
            Cache("disk", tmp_path)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert not list(tmp_path.glob(f"{DB_NAME}.damaged-*"))


def test_failed_write_rolls_back_and_reports_the_error(tmp_path):
    from vergeml.data.store import Store
    from vergeml.errors import VergeMLError
    db = Store(tmp_path)
    try:
        with pytest.raises(VergeMLError, match="no such table"):
            db.write([("INSERT INTO meta(key, value) VALUES (?, ?)", [("x", "1")]),
                      ("INSERT INTO missing VALUES (?)", [(1,)])])
        assert db.read("SELECT value FROM meta WHERE key = 'x'") == []
    finally:
        db.close()


@pytest.mark.parametrize("mode", ["mem", "disk"])
def test_modifying_a_returned_array_does_not_change_the_cache(tmp_path, mode):
    with Cache(mode, tmp_path) as cache:
        cache.put(FEAT, "a", arr(1))
        cache.get(FEAT, "a")[:] = 7
        assert (cache.get(FEAT, "a") == arr(1)).all()
