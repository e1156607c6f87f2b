"""Moving files as a review asks, and putting them back: ``--apply`` and ``--undo``.

Nothing is lost: before the first file moves, a journal
(``<project>/.doctor/journal-<UTC time>.json``) lists every planned move with
the file's content digest. Files only move by rename on one file system
(a relabel between class folders, a removal into ``<project>/removed/``); a
name already taken gets a suffix (``x (2).jpg``), nothing is overwritten.

The disk decides what happened: a move counts as done when its destination
holds the file (same digest) and its source is free. The journal's ``done``
count (rewritten at most twice a second, and when the apply stops, Ctrl-C
included) says which moves surely happened, so undo can tell a file lost
since from one that never moved. So an apply killed half-way is undone
exactly like a finished one.
"""
import errno
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

from vergeml.console import warn
from vergeml.errors import UsageError, VergeMLError
from vergeml.fileutil import atomic_write_text, file_sha256

JOURNAL_DIR = ".doctor"
REMOVED_DIR = "removed"
FORMAT = 1
# Seconds between two rewrites of the journal's progress while files move.
MARK_EVERY = 0.5


def apply_moves(project_dir, samples_dir, moves):
    """Move the files of ``moves``, journal first.

    Args:
        project_dir: the project folder.
        samples_dir: the samples folder (absolute, or relative to the project).
        moves: :class:`vergeml.doctor.review.Move` objects (from ``read_review``).

    Returns:
        ``(journal path, number of files moved)``; ``(None, 0)`` without moves
        (no journal is written then).

    Raises:
        UsageError: a file is missing or named twice (nothing moved, no journal).
        VergeMLError: a move failed; the journal lets ``undo`` put back the moves done.
    """
    project = Path(os.path.abspath(project_dir))
    samples = Path(os.path.normpath(project / samples_dir))
    planned, created = _plan(project, samples, list(moves))
    if not planned:
        return None, 0
    journal = _new_journal_path(project)
    record = {"format": FORMAT, "created": _utc_now(), "state": "applying", "done": 0,
              "samples": _rel(samples, project), "created_dirs": created, "moves": planned}
    _save(journal, record)
    _run(project, journal, record)
    _warn_emptied(project, samples, planned)
    return journal, len(planned)


def undo(project_dir):
    """Put back the moves of the latest journal not undone yet.

    Every move is checked before the first file moves back: its file must be at
    the destination (same digest) and its source free, else nothing moves.

    Args:
        project_dir: the project folder.

    Returns:
        The number of files moved back.

    Raises:
        UsageError: no journal is left to undo.
        VergeMLError: a file to move back is missing or changed, or its old
            place is taken (named in the message); nothing was moved back.
    """
    project = Path(os.path.abspath(project_dir))
    journal, record = _latest(project)
    backs = [m for i, m in enumerate(record["moves"]) if _to_put_back(project, m, i < record["done"])]
    for entry in reversed(backs):
        source, destination = project / entry["source"], project / entry["destination"]
        if os.path.lexists(source):  # appeared since the check: never overwrite
            raise _occupied(entry, journal)
        try:
            source.parent.mkdir(parents=True, exist_ok=True)
            os.rename(destination, source)
        except OSError as err:  # moves back so far stay; undo again continues from the disk
            raise VergeMLError(f"cannot move {entry['destination']} back to {entry['source']}: "
                               f"{err.strerror or err}") from None
    for folder in sorted(record["created_dirs"], key=lambda d: -d.count("/")):
        _remove_if_empty(project / folder)
    record["state"], record["undone"] = "undone", _utc_now()
    _save(journal, record)
    return len(backs)


def _plan(project, samples, moves):
    """The journal's moves: source, destination, digest; and the folders to create.

    Raises:
        UsageError: a file is missing, outside the samples folder, or named twice.
        VergeMLError: a destination is on another file system (a rename cannot move it).
    """
    taken, planned, created, seen = set(), [], [], set()
    for move in moves:
        source = Path(os.path.normpath(project / move.file))
        if source in seen:
            raise UsageError(f"{move.file!r} is to be moved twice")
        seen.add(source)
        if not source.is_file():
            raise UsageError(f"no such file {move.file!r} (relative to the project folder)")
        inside = _inside(source, samples, move.file)
        destination = _free(_destination(project, samples, inside, move), taken)
        taken.add(destination)
        _check_same_device(source, destination)
        _note_created(destination.parent, project, created)
        planned.append({"action": move.action, "label": move.label, "target_label": move.target_label,
                        "source": _rel(source, project), "destination": _rel(destination, project),
                        "digest": file_sha256(source)})
    return planned, created


def _inside(source, samples, shown):
    """``source`` relative to the samples folder, as path parts."""
    try:
        return source.relative_to(samples).parts
    except ValueError:
        raise UsageError(f"{shown!r} is not in the samples folder {samples}") from None


def _destination(project, samples, inside, move):
    """Where a file goes: another class folder, or ``removed/`` with its path in the samples."""
    if move.action == "relabel":
        if len(inside) < 2:
            raise UsageError(f"cannot relabel {move.file!r}: it is not in a class folder")
        return samples.joinpath(move.target_label, *inside[1:])
    if move.action == "remove":
        return project.joinpath(REMOVED_DIR, *inside)
    raise UsageError(f"unknown action {move.action!r} for {move.file!r}")


def _free(path, taken):
    """``path``, or ``name (2).ext``, ``name (3).ext`` ... when it exists or is planned."""
    candidate, number = path, 1
    while candidate in taken or os.path.lexists(candidate):
        number += 1
        candidate = path.with_name(f"{path.stem} ({number}){path.suffix}")
    return candidate


def _check_same_device(source, destination):
    """A rename only moves within one file system; say so before anything moves."""
    existing = destination.parent
    while not existing.exists():
        existing = existing.parent
    if os.stat(existing).st_dev != os.stat(source).st_dev:
        raise VergeMLError(f"cannot move {source} to {existing}: another file system",
                           hint="Keep the samples folder inside the project folder's file system.")


def _note_created(folder, project, created):
    """Add the folders up to ``folder`` that do not exist yet (parents first)."""
    missing = []
    while not folder.exists() and folder != project and folder != folder.parent:
        missing.append(_rel(folder, project))
        folder = folder.parent
    created.extend(name for name in reversed(missing) if name not in created)


def _run(project, journal, record):
    """Perform the planned moves in order, marking progress in the journal."""
    moves, last_mark = record["moves"], time.monotonic()
    try:
        for index in range(record["done"], len(moves)):
            _move(project / moves[index]["source"], project / moves[index]["destination"])
            record["done"] = index + 1
            if time.monotonic() - last_mark >= MARK_EVERY:
                _save(journal, record)
                last_mark = time.monotonic()
    except BaseException as err:  # Ctrl-C included: record how far it got, then stop
        _save(journal, record)
        if isinstance(err, OSError):
            raise VergeMLError(f"stopped after moving {record['done']} of {len(moves)} file(s): "
                               f"{err.strerror or err} ({err.filename})",
                               hint="Run `ml doctor --undo` to put them back.") from None
        raise
    record["state"] = "applied"
    _save(journal, record)


def _move(source, destination):
    """Rename ``source`` to ``destination``, which must be free (never overwrite)."""
    if os.path.lexists(destination):
        raise FileExistsError(errno.EEXIST, "the destination appeared since the plan", str(destination))
    destination.parent.mkdir(parents=True, exist_ok=True)
    os.rename(source, destination)


def _to_put_back(project, entry, surely_done):
    """Whether a journal move is to be reversed, from what is on disk.

    Args:
        entry: the journal's move.
        surely_done: the journal's progress says the move happened.

    Raises:
        VergeMLError: the move happened but cannot be reversed (file missing or
            changed, old place taken).
    """
    source, destination = project / entry["source"], project / entry["destination"]
    moved_here = destination.is_file() and file_sha256(destination) == entry["digest"]
    if moved_here and not os.path.lexists(source):
        return True
    if not surely_done:  # never moved (the apply stopped before it), or nothing to tell
        return False
    if moved_here:
        raise _occupied(entry, None)
    if source.is_file() and file_sha256(source) == entry["digest"]:
        return False  # already back (an undo that was stopped, or by hand)
    raise VergeMLError(f"cannot undo: {entry['destination']} is missing or changed since it was moved "
                       f"there from {entry['source']}",
                       hint="Put the file back there, then run `ml doctor --undo` again; nothing was moved.")


def _occupied(entry, journal):
    where = f" (journal {journal.name})" if journal else ""
    return VergeMLError(f"cannot undo: {entry['source']} exists again, so {entry['destination']} "
                        f"cannot move back{where}",
                        hint="Move that file away, then run `ml doctor --undo` again.")


def _latest(project):
    """``(path, record)`` of the latest journal not undone.

    Raises:
        UsageError: none is left.
        VergeMLError: a journal cannot be read (it is left as it is).
    """
    folder = project / JOURNAL_DIR
    names = sorted(folder.glob("journal-*.json"), reverse=True) if folder.is_dir() else []
    for path in names:
        record = _load(path)
        if record["state"] != "undone":
            return path, record
    raise UsageError(f"nothing to undo: no applied review in {folder}"
                     + (f" ({len(names)} journal(s), all undone)" if names else ""))


def _load(path):
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("format") != FORMAT or not isinstance(record.get("moves"), list):
            raise ValueError("unexpected content")
        record.setdefault("created_dirs", [])
        record["done"] = int(record.get("done", 0))
        return record
    except (OSError, ValueError, TypeError, AttributeError) as err:
        raise VergeMLError(f"cannot read the journal {path}: {err}",
                           hint="Repair it, or move it out of the .doctor folder to undo the one before.") from None


def _save(journal, record):
    atomic_write_text(journal, json.dumps(record, indent=1) + "\n")


def _new_journal_path(project):
    """``.doctor/journal-<UTC time>.json``, sortable by time, never an existing one."""
    folder = project / JOURNAL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    while True:  # names sort by time, so two applies in one microsecond wait for the next
        path = folder / f"journal-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S.%fZ')}.json"
        if not path.exists():
            return path
        time.sleep(0.001)


def _utc_now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _rel(path, project):
    return Path(os.path.relpath(path, project)).as_posix()


def _remove_if_empty(folder):
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty (files arrived since) or gone already: leave it


def _warn_emptied(project, samples, planned):
    """Warn about class folders the moves left without files (training refuses them)."""
    for label in sorted({m["label"] for m in planned if m["label"]}):
        folder = samples / label
        if folder.is_dir() and not any(p.is_file() for p in folder.rglob("*")):
            warn(f"the class folder {_rel(folder, project)} holds no file now and training refuses "
                 "an empty class: remove the folder, or run `ml doctor --undo`")
