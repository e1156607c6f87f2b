"""Small file systems for the disk-fault tests: full, read-only, measured.

The tests run as root here, where ``chmod 0o555`` does not stop a write, so a
read-only or full folder is a real mount: a tmpfs of a few hundred KB mounted
on the folder (``mount -t tmpfs``), remounted read-only when asked. A user
who is not root gets a read-only folder from ``chmod`` instead; a full disk
needs a mount.

A test that needs a mount FAILS when it cannot get one, saying what is
missing (root, or a ``mount -t tmpfs`` that works), so a run that could not
make the fault never looks like a run that survived it. CI runs as root,
where the mount works, so ``make test`` runs these tests. Where mounting is
not possible (a laptop without root, a container without ``CAP_SYS_ADMIN``),
set ``VERGEML_NO_MOUNT=1``: those tests are then skipped, by request, and say so
(nothing is mounted).
"""
import contextlib
import errno
import functools
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

FILLER = ".filler"


def is_root():
    """Whether this process runs as root (chmod does not stop root's writes)."""
    return os.geteuid() == 0


NO_MOUNT = "VERGEML_NO_MOUNT"  # set to 1: skip the tests that need a mount instead of failing


@functools.lru_cache(maxsize=None)
def mount_problem():
    """Why this process cannot mount a tmpfs, or None when it can (probed once).

    Returns:
        None, or what is missing, in a few words.
    """
    if not is_root():
        return f"root (this process runs as uid {os.geteuid()})"
    probe = Path("/tmp") / f"vergeml-mount-probe-{os.getpid()}"
    probe.mkdir(exist_ok=True)
    try:
        result = _run_mount(probe, "64k")
        if result.returncode != 0:
            said = (result.stderr or result.stdout).strip() or f"exit {result.returncode}"
            return f"a working `mount -t tmpfs` (it said: {said})"
        _umount(probe)
        return None
    except OSError as err:  # no mount program at all
        return f"the mount program ({err})"
    finally:
        probe.rmdir()


def can_mount():
    """Whether this process may mount a tmpfs (root, and ``mount`` works here)."""
    return mount_problem() is None


def require_mount():
    """Fail the test when no tmpfs can be mounted, naming what is missing.

    ``VERGEML_NO_MOUNT=1`` skips it instead (nothing is mounted, not even a probe).
    """
    if os.environ.get(NO_MOUNT) == "1":
        pytest.skip(f"{NO_MOUNT}=1: a full or read-only file system needs a tmpfs mount")
    problem = mount_problem()
    if problem is None:
        return
    pytest.fail(f"a full or read-only file system needs a tmpfs mount, which needs {problem}. "
                f"Run the tests as root where mount works (CI does), or set {NO_MOUNT}=1 "
                "to skip the tests that need it.", pytrace=False)


@contextlib.contextmanager
def tmpfs(folder, size="256k", read_only=False):
    """Mount a tmpfs of ``size`` on ``folder`` (created), unmounted on exit.

    Args:
        folder: where to mount (created when missing; must be empty to be useful).
        size: the size, as ``mount -o size=`` takes it (``256k``, ``2m``).
        read_only: remount it read-only once mounted.

    Yields:
        The folder as a :class:`Path`.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    assert _mount(folder, size) == 0, f"cannot mount a tmpfs on {folder}"
    try:
        if read_only:
            remount(folder, "ro")
        yield folder
    finally:
        _umount(folder)


def remount(folder, mode):
    """Remount the tmpfs on ``folder`` with ``mode``: ``ro``, ``rw`` or ``size=2m``."""
    result = subprocess.run(["mount", "-o", f"remount,{mode}", str(folder)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@contextlib.contextmanager
def read_only_folder(folder):
    """``folder`` as a folder nobody may write: a read-only tmpfs as root
    (``chmod`` stops no write of root), ``chmod 0o555`` otherwise.

    Yields:
        The folder as a :class:`Path`.
    """
    folder = Path(folder)
    if is_root():
        require_mount()
        with tmpfs(folder, "64k", read_only=True):
            yield folder
        return
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    try:
        yield folder
    finally:
        folder.chmod(0o755)


def fill(folder, leave=0):
    """Write a filler file in ``folder`` until its file system is full, then
    give ``leave`` bytes back (room for small files, not for large ones).

    Returns:
        The filler's size in bytes.
    """
    path = Path(folder) / FILLER
    written = 0
    with open(path, "ab", buffering=0) as handle:
        block = b"\0" * 4096
        while True:
            try:
                written += handle.write(block)
            except OSError as err:
                assert err.errno == errno.ENOSPC, err
                break
    written = max(written - leave, 0)
    os.truncate(path, written)
    return written


def unfill(folder):
    """Remove the filler :func:`fill` wrote."""
    (Path(folder) / FILLER).unlink(missing_ok=True)


def stray_files(folder):
    """Temporary or partial files the tool left in ``folder``: atomic writes'
    ``.<name>.*.tmp*`` and anything ending in ``.tmp``/``.partial``.

    Returns:
        sorted list of relative posix paths.
    """
    root = Path(folder)
    found = []
    for path in root.rglob("*"):
        name = path.name
        if ".tmp" in name or name.endswith(".partial"):
            found.append(path.relative_to(root).as_posix())
    return sorted(found)


def cache_entries(cache_dir):
    """Every feature entry of a cache database, checked: ``{key: float32 array}``.

    Fails the test when the database is damaged or an entry does not decode
    to a vector (a half entry).
    """
    import numpy as np
    with contextlib.closing(sqlite3.connect(Path(cache_dir) / "cache.db")) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = db.execute("SELECT key, shape, dtype, data FROM entries "
                          "WHERE stage LIKE 'features:%'").fetchall()
    entries = {}
    for key, shape, dtype, data in rows:
        dims = tuple(int(d) for d in shape.split(","))
        array = np.frombuffer(data, dtype=np.dtype(dtype))
        assert array.size == int(np.prod(dims)) and len(dims) == 1, f"half entry {key}"
        assert np.isfinite(array).all(), f"entry {key} holds NaN/inf"
        entries[key] = array.reshape(dims)
    return entries


def checked_rows(cache_dir, table):
    """Rows of a cache database table (0 when the schema was never committed),
    after SQLite's integrity check passed."""
    with contextlib.closing(sqlite3.connect(Path(cache_dir) / "cache.db")) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        known = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] if table in known else 0


def _run_mount(folder, size):
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True)


def _mount(folder, size):
    return _run_mount(folder, size).returncode


def _umount(folder):
    # Lazy: a process the test killed may still hold a file open on it.
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)
