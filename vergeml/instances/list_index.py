"""``trainings/.index.marshal``: the ``ml list`` summary of every run in one file.

Reading and parsing every run's ``data.yaml`` was most of ``ml list`` over
1,000 runs; the index is the one device that makes it fast (a JSON summary
beside each ``data.yaml`` was measured too, and removed: with it alone 1,000
runs listed in 7.1x ``python -c pass``, with the index 4.9x). The index
keeps, per run, what :func:`~vergeml.instances.metadata.read_instance` gave
for a summary read, with the stat signature (device, inode, size, mtime,
ctime) of the run's ``data.yaml`` when it was read. A run whose
``data.yaml`` still has that signature is taken from the index (one
``stat``, no open); any other run is read from its files as before, so a
listing is the same with or without the index: ``data.yaml`` alone decides.

The index is a pure cache, checked run by run on every read: no run ever
writes it, ``ml list`` rewrites it (atomically: temp file and
:func:`os.replace`) when it found entries to add or drop. Two listings
writing at once each write a correct index; a missing, corrupt or foreign
index only costs one full read.

Racy files (as git's index has them): file times come from a coarse clock,
so a file rewritten twice within one tick, same size and same inode (freed
inodes are reused), would keep its signature. A run whose files changed
less than :data:`RACY_NS` (:data:`COARSE_RACY_NS` on a file system with
whole-second times) before the scan began is not indexed: it is read from
its files until its last change is older than that. Any later change then
gets a newer time, so a signature seen as settled cannot come back.

The format is :mod:`marshal` (version 4, readable by every Python 3 since
3.4), not JSON: 1,000 runs load in about 3 ms so, 20 ms as JSON. Only plain
data goes in (:func:`plain_data`), nothing loaded is ever executed, and a
file that does not load or has the wrong shape counts as no index.
"""
import marshal
import os
import sys
import time
from pathlib import Path

from vergeml.fileutil import atomic_write_bytes
from vergeml.instances.instance import METADATA_FILE, Instance
from vergeml.instances.instance import SUMMARY_SKIP
from vergeml.instances.metadata import read_instance

INDEX_FILE = ".index.marshal"  # hidden: instance_dirs skips it, never a run's name
INDEX_FORMAT = "vergeml list index 1"
MARSHAL_VERSION = 4
# Longer than the tick of the clock Linux stamps files with (1-10 ms); NTFS: 100 ns.
RACY_NS = 50_000_000
# File systems with whole-second times (FAT: 2 s steps, ext3, HFS+: 1 s).
COARSE_RACY_NS = 3_000_000_000
_SECOND_NS = 1_000_000_000
_INTERN_MAX = 40  # texts up to this long are interned: statuses, models, labels, dates


def read_summaries(trainings_dir, names):
    """Summary reads of the runs ``names``, from the index where it is fresh.

    Args:
        trainings_dir: the trainings folder.
        names: the run folder names, in the order wanted.

    Returns:
        list of :class:`Instance` as ``read_instance(path, skip=SUMMARY_SKIP)``
        gives them, in the order of ``names``.
    """
    started = _clock_ns()
    root = Path(trainings_dir)
    prefix = os.path.join(os.fspath(root), "")  # str paths: ~3x cheaper than Path objects
    index = load_index(root / INDEX_FILE)
    fresh, added, instances = {}, False, []
    for name in names:
        signature = file_signature(prefix + name)
        entry = index.get(name)
        if signature is not None and _usable(entry, signature):
            instances.append(Instance(prefix + name, entry[2], partial=entry[1], name=name))
            fresh[name] = entry
            continue
        instance = read_instance(root / name, skip=SUMMARY_SKIP)
        instances.append(instance)
        if cacheable(instance, signature, started):
            fresh[name] = (signature, instance.partial, _interned(instance.metadata))
            added = True
    # Without additions, fresh is a subset of the index: equal sizes mean nothing to drop.
    if (added or len(fresh) != len(index)) and (fresh or index):
        save_index(root / INDEX_FILE, fresh)
    return instances


def _clock_ns():
    """Wall-clock time in nanoseconds (its own function so tests can move the clock)."""
    return time.time_ns()


def file_signature(folder):
    """The stat signature of a run's ``data.yaml``: whether it changed.

    Args:
        folder: the run folder as a str path.

    Returns:
        ``(device, inode, size, mtime_ns, ctime_ns)``, or None when it
        cannot be stat-ed (the run is then read from its files, which gives
        the exact problem).
    """
    try:
        stat = os.stat(f"{folder}{os.sep}{METADATA_FILE}")
    except (OSError, ValueError):
        return None
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def _usable(entry, signature):
    """Whether an index entry is well formed and was made from files with ``signature``.

    Args:
        entry: the loaded entry (anything: the file may have been edited), or None.
        signature: the run's current :func:`file_signature`.

    Returns:
        True when the entry can stand for reading the run's files.
    """
    return (type(entry) is tuple and len(entry) == 3 and entry[0] == signature
            and type(entry[1]) is bool and type(entry[2]) is dict)


def cacheable(instance, signature, started):
    """Whether a run just read from its files may go into the index.

    Args:
        instance: the :class:`Instance` read.
        signature: the :func:`file_signature` taken before reading.
        started: :func:`_clock_ns` when the scan began.

    Returns:
        False for broken runs (read again each time, for the same warning),
        files changed too recently (:func:`settled`), and metadata that is
        not plain data (dates, sets, non-text keys from a hand-written YAML).
    """
    if instance.problem or signature is None:
        return False
    try:
        return settled(signature, started) and plain_data(instance.metadata)
    except RecursionError:  # absurdly deep metadata: not worth indexing
        return False


def settled(signature, started):
    """Whether files with ``signature`` last changed long enough before ``started``.

    Args:
        signature: a :func:`file_signature`.
        started: :func:`_clock_ns` when the scan began.

    Returns:
        True when any later change must give a different signature.
    """
    times = signature[3:5]  # mtime, ctime
    coarse = any(t % _SECOND_NS == 0 for t in times)
    return max(times) < started - (COARSE_RACY_NS if coarse else RACY_NS)


def plain_data(value):
    """Whether ``value`` is plain data that is stored and loaded back unchanged.

    Args:
        value: parsed metadata.

    Returns:
        True for nested dicts with str keys, lists, str, int, float, bool,
        None: what JSON and the summary files hold.
    """
    kind = type(value)
    if value is None or kind in (str, int, float, bool):
        return True
    if kind is list:
        return all(plain_data(item) for item in value)
    if kind is dict:
        return all(type(key) is str and plain_data(item) for key, item in value.items())
    return False


def _interned(value):
    """``value`` with its keys and short texts interned, for a smaller, faster index.

    :mod:`marshal` writes an object met again as a reference: with the
    same key objects in every run, the index shrinks by a third and loads
    in half the time.

    Args:
        value: plain data (see :func:`plain_data`).

    Returns:
        An equal value.
    """
    kind = type(value)
    if kind is dict:
        return {sys.intern(key): _interned(item) for key, item in value.items()}
    if kind is list:
        return [_interned(item) for item in value]
    if kind is str and len(value) <= _INTERN_MAX:
        return sys.intern(value)
    return value


def load_index(path):
    """The runs of an index file, by name; empty when missing, corrupt or foreign.

    Args:
        path: the index file.

    Returns:
        dict: run name -> entry (entries are checked when used, not here).
    """
    try:
        with open(path, "rb") as handle:
            data = marshal.loads(handle.read())
    except (OSError, EOFError, ValueError, TypeError, MemoryError, RecursionError):
        return {}  # MemoryError: a corrupt length field
    if type(data) is not tuple or len(data) != 2 or data[0] != INDEX_FORMAT:
        return {}
    return data[1] if type(data[1]) is dict else {}


def save_index(path, runs):
    """Write the index atomically; best effort (a read-only folder keeps no index).

    Args:
        path: the index file.
        runs: run name -> ``(signature, partial, metadata)``.
    """
    try:
        atomic_write_bytes(path, marshal.dumps((INDEX_FORMAT, runs), MARSHAL_VERSION))
    except (OSError, ValueError):
        pass  # the listing itself was read from the run files and stands
