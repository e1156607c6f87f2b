"""``ml list`` in a real process: the run index is written once, then used.

A second ``ml list`` over settled runs reads ``trainings/.index.marshal``
instead of every run's files, so it imports none of what reading or writing
them needs (PyYAML, hashlib, tempfile), nor tabulate (the table is rendered
by :mod:`vergeml.instances.table_render`), nor typing or socket; and it prints
what the first one printed. (``dataclasses`` is imported: every option
declaration is a frozen dataclass, :class:`vergeml.settings.option.Option`.)

Runs changed within the index's settle time (``list_index.RACY_NS``) are
left out of it. Rather than sleep past that window, each listing here runs
with the clock ``list_index`` reads moved an hour on: as far as the index
can tell, the runs were written long before, whatever the machine's speed.
"""
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO, subprocess_env
from tests.unit.list_helpers import make_run

pytestmark = pytest.mark.e2e

NOT_FOR_A_FRESH_INDEX = ("tabulate", "yaml", "hashlib", "tempfile", "typing",
                         "socket", "numpy", "tensorflow", "keras")

# An hour: past the settle time on any file system (3 s where times are whole seconds).
LATER_NS = 3600 * 10**9
LIST = textwrap.dedent("""
    import sys
    sys.path.insert(0, {repo!r})
    from vergeml.instances import list_index
    real_clock = list_index._clock_ns
    list_index._clock_ns = lambda: real_clock() + {later_ns}  # the listing comes later
    sys.argv = ["ml", "list"]
    from vergeml.cli.main import main
    code = main()
    sys.stdout.flush()
    loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({modules!r}))
    print("LOADED", loaded, file=sys.stderr)
    sys.exit(code)
""")


def ml_list(cwd, later_ns=LATER_NS):
    """``ml list`` in ``cwd`` with its clock ``later_ns`` ahead of the files' times."""
    script = LIST.format(repo=str(REPO), modules=NOT_FOR_A_FRESH_INDEX, later_ns=later_ns)
    proc = subprocess.run([sys.executable, "-c", script],
                          cwd=cwd, env=subprocess_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, proc.stderr


def test_second_list_reads_the_index_and_imports_little(tmp_path):
    for index in range(5):
        make_run(tmp_path, f"run-{index}", start=f"2026-01-0{index + 1}T10:00:00+00:00",
                 results={"test_acc": index / 10, "epochs_done": index})
    first, _ = ml_list(tmp_path)
    assert (tmp_path / "trainings" / ".index.marshal").is_file()
    second, err = ml_list(tmp_path)
    assert second == first and len(first.splitlines()) == 7
    assert "LOADED []" in err, err
