"""The remembered split assignment: ``<project-dir>/vergeml.splits.json``.

No rule computed from the current files alone can keep the split sizes
exact and also never move a validation or test image into train as images
are added (see :mod:`vergeml.data.split`). So each run's assignment is
written down and the next run starts from it.

Where and why: next to ``vergeml.yaml``, not in the cache folder. The file
is not a cache: deleting it changes which images are validated and tested,
and ``.cache/`` is there to be deleted (and is git-ignored by ``ml new``).
Runs with ``--cache=none`` read and write it too. It is small JSON, one
file per line, meant to be committed with the project so that every clone
splits the same way.

- One assignment per split setting (``val-split``, ``test-split``,
  ``random-seed`` and whether classes are split separately); the
  :data:`KEEP` most recently used are kept. A run with other settings
  starts from a fresh assignment for them, and going back to earlier
  settings continues from the assignment made for those.
- Writes are atomic (a temporary file moved into place), and the
  read-assign-write step holds an exclusive lock on the project folder, so
  two concurrent runs never corrupt the file or lose each other's images.
  The file is only rewritten when it changes.
- An unreadable or damaged file (a truncated write by another tool, git
  conflict markers) stops the run with a one-line error and is left as it is:
  assigning fresh splits would silently move validation and test images
  into training. The user repairs it, or moves it aside to accept fresh
  splits.
"""
import contextlib
import json
import os
from pathlib import Path

from vergeml.console import warn
from vergeml.data.split import SPLITS, place_splits
from vergeml.errors import ConfigError
from vergeml.fileutil import atomic_write_text

MEMORY_FILE = "vergeml.splits.json"
FORMAT = 1
KEEP = 4
CONFLICT_MARKER = "\n<<<<<<< "


def split_settings(val, test, seed, stratified):
    """What an assignment is remembered for (JSON-shaped, so it compares
    equal to what was read back). A directory split counts by kind only, so
    moving the project does not start a new assignment."""
    def describe(spec):
        return ["dir"] if spec.kind == "dir" else spec.config()
    return {"val": describe(val), "test": describe(test), "seed": seed, "stratified": bool(stratified)}


def remembered_splits(project_dir, items, val, test, seed, stratified):
    """Assign splits starting from the project's remembered assignment, and
    remember the result.

    Args:
        project_dir: the project folder (holds :data:`MEMORY_FILE`).
        items: :class:`vergeml.data.split.SplitItem` per sample.
        val, test: the :class:`vergeml.data.split.SplitSpec` settings.
        seed: the random seed.
        stratified: whether classes are split separately (labelled data).

    Returns:
        list of split names, parallel to ``items``.
    """
    path = Path(project_dir) / MEMORY_FILE
    settings = json.loads(json.dumps(split_settings(val, test, seed, stratified)))
    with _locked(project_dir):
        text, entries = _read(path)
        current = next((e for e in entries if e["settings"] == settings), None)
        remembered = {rel: tuple(rec) for rel, rec in current["files"].items()} if current else None
        splits, records = place_splits(items, val, test, seed, remembered)
        others = [e for e in entries if e is not current][:KEEP - 1]
        updated = _dump([{"settings": settings, "files": records}] + others)
        if updated != text:
            try:
                atomic_write_text(path, updated)
            except OSError as err:
                warn(f"cannot save the split assignment to {path}: {err.strerror or err}; "
                     "the next run may split differently")
    return splits


def _read(path):
    """``(text, entries)`` of the memory file; ``(None, [])`` when absent.

    Raises:
        ConfigError: the file cannot be read or is damaged (it is left untouched).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, []
    except (OSError, UnicodeDecodeError) as err:
        raise _damaged(path, f"cannot be read: {getattr(err, 'strerror', None) or err}") from None
    if CONFLICT_MARKER in text:
        raise _damaged(path, "holds git conflict markers (<<<<<<<)")
    try:
        data = json.loads(text)
        entries = data["assignments"]
        if data.get("format") != FORMAT or not all(_valid(e) for e in entries):
            raise ValueError("unexpected content")
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise _damaged(path, f"is damaged ({err})") from None
    return text, entries


def _damaged(path, problem):
    """The error for a memory file that cannot be used: never replaced silently."""
    aside = path.with_name(path.name + ".damaged")
    return ConfigError(f"{path.name} {problem}; it records which images are validated and tested",
                       hint=f"Repair it (for a merge conflict, keep one side), or move it aside to "
                            f"assign fresh splits: mv {path.name} {aside.name} (validation and "
                            "test images may then move into training).")


def _valid(entry):
    return (isinstance(entry.get("settings"), dict) and isinstance(entry.get("files"), dict)
            and all(isinstance(rec, list) and len(rec) == 2 and isinstance(rec[0], str)
                    and rec[1] in SPLITS for rec in entry["files"].values()))


def _dump(entries):
    """JSON with one file per line (readable, and small diffs under version control)."""
    blocks = []
    for entry in entries:
        files = sorted(entry["files"].items())
        lines = [f"    {json.dumps(rel)}: {json.dumps(list(rec))}" for rel, rec in files]
        blocks.append('  {"settings": ' + json.dumps(entry["settings"], sort_keys=True)
                      + ',\n   "files": {\n' + ",\n".join(lines) + "\n  }}")
    return '{"format": %d, "assignments": [\n%s\n]}\n' % (FORMAT, ",\n".join(blocks))


@contextlib.contextmanager
def _locked(folder):
    """An exclusive lock on ``folder`` (the project folder itself, so no lock
    file is left behind); without ``fcntl`` or where the file system refuses
    it, no lock."""
    try:
        import fcntl
        handle = os.open(folder, os.O_RDONLY)
    except (ImportError, OSError):
        yield
        return
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError:
            pass
        yield
    finally:
        os.close(handle)
