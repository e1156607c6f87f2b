"""``ml list`` in a real process: the run index is written once, then used.

A second ``ml list`` over settled runs reads ``trainings/.index.marshal``
instead of every run's files, so it imports none of what reading or writing
them needs (PyYAML, hashlib, tempfile), nor tabulate (the table is rendered
by :mod:`vergeml.instances.table_render`), nor dataclasses, typing or socket;
and it prints what the first one printed.
"""
import subprocess
import sys
import textwrap
import time

import pytest

from tests.conftest import REPO, subprocess_env
from tests.unit.list_helpers import make_run

pytestmark = pytest.mark.e2e

NOT_FOR_A_FRESH_INDEX = ("tabulate", "yaml", "hashlib", "tempfile", "dataclasses", "typing",
                         "socket", "numpy", "tensorflow", "keras")

LIST = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    sys.argv = ["ml", "list"]
    from vergeml.cli import main
    code = main()
    sys.stdout.flush()
    loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({modules!r}))
    print("LOADED", loaded, file=sys.stderr)
    sys.exit(code)
""")


def ml_list(cwd):
    proc = subprocess.run([sys.executable, "-c", LIST.format(repo=str(REPO),
                                                             modules=NOT_FOR_A_FRESH_INDEX)],
                          cwd=cwd, env=subprocess_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, proc.stderr


def test_second_list_reads_the_index_and_imports_little(tmp_path):
    for index in range(5):
        make_run(tmp_path, f"run-{index}", start=f"2026-01-0{index + 1}T10:00:00+00:00",
                 results={"test_acc": index / 10, "epochs_done": index})
    time.sleep(0.2)  # past the racy window: the runs can be indexed
    first, _ = ml_list(tmp_path)
    assert (tmp_path / "trainings" / ".index.marshal").is_file()
    second, err = ml_list(tmp_path)
    assert second == first and len(first.splitlines()) == 7
    assert "LOADED []" in err, err
