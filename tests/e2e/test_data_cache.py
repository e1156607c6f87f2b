"""The array cache survives a writer killed mid-transaction (a real child process)."""
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from vergeml.data.cache import Cache
from vergeml.data.store import DB_NAME

from tests.unit.test_data_helpers import arr

pytestmark = pytest.mark.e2e


KILLED_WRITER = textwrap.dedent("""
    import sys, numpy as np
    from vergeml.data.cache import Cache
    cache = Cache("disk", sys.argv[1])
    i = 0
    while True:  # write until killed; big rows so a kill lands mid-transaction
        cache.put("features:x", f"k{i}", np.full((20000,), i, np.float32))
        i += 1
        if i == 300:
            print("ready", flush=True)
""")


def test_killed_writer_leaves_a_usable_cache(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
    finally:
        proc.kill()
        proc.wait(timeout=30)
    db = sqlite3.connect(tmp_path / DB_NAME)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    with Cache("disk", tmp_path) as cache:
        found = cache.get_many("features:x", [f"k{i}" for i in range(2000)])
        assert len(found) >= 256  # at least the first committed batch
        assert all(v.shape == (20000,) and v[0] == int(k[1:]) for k, v in found.items())
        cache.put("features:x", "after", arr(1))
    with Cache("disk", tmp_path) as cache:
        assert cache.get("features:x", "after") is not None
