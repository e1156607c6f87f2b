"""The SQLite database behind the cache (``<cache-dir>/cache.db``).

SQLite gives what the cache needs without a server: transactions (a crash
mid-write rolls back to the last commit, so the old cache stays usable),
locking between processes (two ``ml`` runs on one project wait for each
other instead of corrupting the file) and indexed look-ups by key. WAL mode
lets readers continue while a writer commits.

Tables:
    meta(key, value)                      format version
    files(path, size, mtime_ns, digest, checked_ns)  fast unchanged check
    verdicts(digest, reason)              '' = decodes fine, else why not
    entries(stage, key, shape, dtype, data, created)  cached arrays
"""
import contextlib
import errno
import os
import sqlite3
import threading
import time
from pathlib import Path

from vergeml import faults
from vergeml.errors import VergeMLError
from vergeml.fileutil import DISK_FAULTS, DiskError, writing
from vergeml.console import warn


DB_NAME = "cache.db"
# Bump when the schema or the meaning of stored data changes: old files are wiped.
STORE_VERSION = "1"
BUSY_TIMEOUT_MS = 120_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS files(path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER,
                                 digest TEXT, checked_ns INTEGER);
CREATE TABLE IF NOT EXISTS verdicts(digest TEXT PRIMARY KEY, reason TEXT);
CREATE TABLE IF NOT EXISTS entries(stage TEXT NOT NULL, key TEXT NOT NULL, shape TEXT, dtype TEXT,
                                   data BLOB, created REAL, PRIMARY KEY(stage, key));
"""


class Store:
    """A thread-safe connection to the cache database.

    Args:
        directory: the cache directory (created on demand), or None for a
            private in-memory database (cache mode ``none``).
    """

    def __init__(self, directory=None):
        self.path = Path(directory) / DB_NAME if directory is not None else None
        self.lock = threading.RLock()
        self.conn = self._open()

    def _open(self):
        if self.path is None:
            return _connect(":memory:")
        with writing(self.path.parent):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return _connect(str(self.path))
        except sqlite3.OperationalError as err:
            # Locked by another run, read-only, disk full: the file itself is fine.
            raise self._unusable(err) from None
        except sqlite3.DatabaseError as err:
            # A damaged or foreign file: set it aside and start fresh.
            aside = self.path.with_name(f"{DB_NAME}.damaged-{int(time.time())}")
            warn(f"cache database {self.path} is unreadable ({err}); moved it to {aside.name} and "
                 "starting a new cache")
            for suffix in ("-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
            os.replace(self.path, aside)
            return _connect(str(self.path))

    @contextlib.contextmanager
    def _locked(self):
        """Hold the lock; turn SQLite's operational errors into one-line errors."""
        with self.lock:
            try:
                yield
            except sqlite3.OperationalError as err:
                raise self._unusable(err) from None

    def _unusable(self, err):
        """The one-line error for an SQLite failure: a :class:`DiskError` naming
        the cache folder when the disk is full or not writable."""
        fault = _disk_fault(err, self.path.parent)
        if fault is not None:
            return fault
        return VergeMLError(f"cannot use the cache database {self.path}: {err}",
                            hint="Another ml run may be using it, or the disk is full or "
                                 "read-only; try again, or use --cache-dir or --cache none.")

    def read(self, sql, params=()):
        """Run a query and return all rows."""
        with self._locked():
            return self.conn.execute(sql, params).fetchall()

    def write(self, statements):
        """Run ``[(sql, rows), ...]`` (executemany) in one transaction.

        A failure rolls everything back, leaving the last committed state.
        """
        def run():
            for sql, rows in statements:
                self.conn.executemany(sql, rows)
            faults.point("cache.commit")

        with self._locked():
            _transaction(self.conn, run)

    def reclaim(self):
        """Return the pages of deleted entries to the file system."""
        with self._locked():
            # executescript steps to completion; execute() would free one page only.
            self.conn.executescript("PRAGMA incremental_vacuum;")

    def close(self):
        with self.lock:
            self.conn.close()


def _disk_fault(err, folder):
    """A :class:`DiskError` for an SQLite error caused by the disk, else None.

    SQLite reports a full disk as SQLITE_FULL, a read-only file or folder as
    SQLITE_READONLY or (when it cannot create the database, its journal or
    WAL) SQLITE_CANTOPEN; which of those the folder suffers is asked of the
    folder itself.
    """
    name = getattr(err, "sqlite_errorname", "") or ""
    if name.startswith("SQLITE_FULL") or "disk is full" in str(err):
        return DiskError(DISK_FAULTS[errno.ENOSPC], folder, errno.ENOSPC)
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")) and not os.access(folder, os.W_OK):
        code = errno.EROFS if _read_only_mount(folder) else errno.EACCES
        return DiskError(DISK_FAULTS[code], folder, code)
    return None


def _read_only_mount(folder):
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _connect(target):
    conn = sqlite3.connect(target, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # Only takes effect on a new file: lets prune() give space back cheaply.
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        if target != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: never corrupt, at worst loses the last commit on power loss.
            conn.execute("PRAGMA synchronous=NORMAL")
        _ensure_schema(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _ensure_schema(conn):
    def create():
        for statement in _SCHEMA.strip().split(";"):
            if statement.strip():
                conn.execute(statement)
        row = conn.execute("SELECT value FROM meta WHERE key='version'").fetchone()
        if row is None or row[0] != STORE_VERSION:
            for table in ("files", "verdicts", "entries"):
                conn.execute(f"DELETE FROM {table}")
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('version', ?)", (STORE_VERSION,))
    _transaction(conn, create)


def _transaction(conn, work):
    """Run ``work()`` in one write transaction; roll back when it fails."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        work()
        conn.execute("COMMIT")
    except BaseException:
        # SQLite may have rolled back already (e.g. disk full); a second
        # ROLLBACK would fail and hide the real error.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
