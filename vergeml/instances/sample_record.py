"""The samples a run was trained on: ``trainings/<name>/samples.csv``.

One row per file: its path (as the data set names it), label, split and
content digest. ``ml @name resume`` takes each file's split from here, so a
resumed run trains, validates and tests on exactly the files it started
with, whatever ``vergeml.splits.json`` says now; and when the samples did
change, :func:`compare` names what changed.

Written atomically when the run is created; plain CSV, so a user (or a
later tool) can see the images behind every number.
"""
import csv
import io

from vergeml.fileutil import atomic_write_text

RECORD_FILE = "samples.csv"
COLUMNS = ("file", "label", "split", "digest")
# Files named in a message about changed samples.
MAX_NAMED = 3


def record_path(instance):
    """Where the record of ``instance`` lives."""
    return instance.path / RECORD_FILE


def write_record(instance, files):
    """Write the record.

    Args:
        instance: the :class:`vergeml.instances.Instance`.
        files: ``(relpath, label, split, digest)`` per file (one row per file,
            not per augmentation variant).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(sorted(set(files)))
    atomic_write_text(record_path(instance), out.getvalue())


def read_record(instance):
    """The record as ``{relpath: (label, split, digest)}``, or None for a run
    stored before records existed (or whose record is unreadable)."""
    try:
        text = record_path(instance).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(rows[0]) != COLUMNS or any(len(row) != len(COLUMNS) for row in rows[1:]):
        return None
    return {row[0]: (row[1], row[2], row[3]) for row in rows[1:]}


def compare(record, files):
    """What changed between a run's record and the files found now.

    Args:
        record: ``{relpath: (label, split, digest)}`` from :func:`read_record`.
        files: ``{relpath: (label, split, digest)}`` of the samples now.

    Returns:
        A phrase such as ``2 files added (a.jpg, b.jpg), 1 removed (c.jpg)``,
        or ``""`` when the two agree.
    """
    added = sorted(set(files) - set(record))
    removed = sorted(set(record) - set(files))
    common = sorted(set(record) & set(files))
    edited = [f for f in common if files[f][2] != record[f][2]]
    relabelled = [f for f in common if f not in edited and files[f][0] != record[f][0]]
    parts = [_named(what, names) for what, names in (
        ("added", added), ("removed", removed), ("changed", edited), ("moved to another class", relabelled))
        if names]
    if parts:
        parts[0] = parts[0].replace(" ", " file(s) ", 1)
    return ", ".join(parts)


def _named(what, names):
    shown = ", ".join(names[:MAX_NAMED]) + (", ..." if len(names) > MAX_NAMED else "")
    return f"{len(names)} {what} ({shown})"
