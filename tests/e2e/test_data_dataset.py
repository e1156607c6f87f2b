"""load_dataset and the cache after a build killed hard in a child process."""
import os

import pytest

from tests.unit.test_data_helpers import (BASE, STAGE, assert_no_stale_hit, build,
                                          make_env, project)  # (project: a fixture)

pytestmark = pytest.mark.e2e


def test_killed_build_then_clean_rebuild(project, tmp_path):
    """A build killed hard (in a subprocess) leaves a cache the next build completes."""
    import subprocess
    import sys
    import textwrap
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(os.getcwd())!r})
        from tests.unit.test_data_helpers import make_env
        from vergeml.data import load_dataset
        ds = load_dataset(make_env({str(project)!r}, data={{"preprocess": {BASE!r}}}))
        with ds.open_cache() as cache:
            for i, s in enumerate(s for split in ("train", "val", "test") for s in ds.samples(split)):
                cache.put("{STAGE}", s.key, ds.load_array(s, 8))
                if i == 30:
                    cache.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -9, proc.stderr.decode()
    ds, stats, found = build(make_env(project, data={"preprocess": BASE}))
    assert stats["hit"] == 31 and stats["new"] == 9 and stats["stale"] == 0
    assert_no_stale_hit(ds, found)
