"""Reading an instance's ``data.yaml`` into an :class:`~vergeml.instances.instance.Instance`.

Unreadable or malformed metadata never raises: it gives a ``broken``
instance with the reason in ``problem``. For ``ml list`` a summary read cuts
the large top-level blocks (the per-epoch history) out of the text before
parsing; :mod:`vergeml.instances.list_index` keeps those reads between listings.
"""
import functools
import json
import os
import re
from pathlib import Path

from vergeml.instances.instance import (METADATA_FILE, RESERVATION_FILE, RUNNING, STORED_STATUSES,
                                        Instance)

# libyaml's loader is ~10x faster than the pure-Python one; ml list reads one
# file per run. A memoizing loader with a hand-written construction step was
# tried and dropped: only ~1.25x faster. 1,000 runs shaped like
# bench/bench_list.py's with a 50-epoch history (7.5 KB each), best of 7,
# measured 2026-12-01: full read 1.93 s with it vs 2.36 s with CSafeLoader;
# summary read 0.21 s vs 0.27 s. Cutting the history out (_drop_top_level)
# is what matters: 0.27 s vs 2.08 s for a full CSafeLoader parse.
# Imported on first use: with summaries, ml list never needs PyYAML.


def read_instance(path, skip=()):
    """Read one instance folder; problems give a ``broken`` Instance, not an error.

    Args:
        path: the instance folder.
        skip: top-level keys not to parse (``history``), for a fast summary;
            the Instance is then marked partial and cannot be saved.

    Returns:
        An :class:`Instance` (check ``.problem``).
    """
    path = Path(path)
    try:
        text = (path / METADATA_FILE).read_bytes()
    except FileNotFoundError:
        claim = _reservation(path)
        if claim is not None:
            # Reserved, data.yaml not written yet: a run being created, or killed in
            # between (then crashed: its pid is gone). Partial: never saved.
            return Instance(path, {"name": path.name, "status": RUNNING, "pid": claim.get("pid"),
                                   "host": claim.get("host"),
                                   "results": {"created_at": claim.get("created_at")}},
                            partial=True)
        return Instance(path, problem=f"no {METADATA_FILE}")
    except OSError as err:
        return Instance(path, problem=f"cannot read {METADATA_FILE}: {err.strerror or err}")
    if skip:
        data, problem = _parse(_drop_top_level(text, skip))
        if not problem:
            return Instance(path, data, partial=True)
        # Odd layout: parse it all, for an exact verdict.
    data, problem = _parse(text)
    return Instance(path, data if not problem else None, problem)


def _reservation(path):
    """What a run wrote into the folder it reserved (pid, host, created_at), when the
    folder holds nothing else but hidden temp files; else None.

    Only ``ml train`` writes :data:`RESERVATION_FILE`, so an empty folder made by
    hand (or anything else without ``data.yaml``) is ``broken``, as docs/list.md says.
    """
    try:
        with os.scandir(path) as entries:
            if not all(entry.name.startswith(".") for entry in entries):
                return None
        claim = json.loads((Path(path) / RESERVATION_FILE).read_bytes())
    except (OSError, ValueError):
        return None
    return claim if isinstance(claim, dict) else None


def _parse(text):
    """Parse and check metadata text.

    Args:
        text: the YAML (bytes or str).

    Returns:
        ``(metadata, None)`` or ``(None, problem)``.
    """
    import yaml
    try:
        data = _load_yaml(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        return None, f"invalid {METADATA_FILE}{where}"
    problem = _check_metadata(data)
    return (None, problem) if problem else (data, None)


def _load_yaml(text):
    """``yaml.safe_load`` with libyaml when available.

    Args:
        text: the YAML (bytes or str).

    Returns:
        The parsed document (None when empty).

    Raises:
        yaml.YAMLError: invalid YAML.
    """
    import yaml
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


_NEXT_TOP_LEVEL = re.compile(rb"^[^\s#\-]", re.M)


@functools.lru_cache(maxsize=None)
def _top_level_key(key):
    """Compiled pattern of ``key:`` at the start of a line."""
    return re.compile(rb"^" + re.escape(key.encode()) + rb":", re.M)


def _drop_top_level(text, keys):
    """Cut top-level blocks (``history: ...``) out of block-style YAML bytes.

    Parsing is the cost of ``ml list``; the per-epoch history is most of
    each file and is not shown.

    Args:
        text: the YAML as bytes.
        keys: top-level keys whose blocks to drop.

    Returns:
        The remaining bytes (may not parse when the layout is unusual).
    """
    for key in keys:
        match = _top_level_key(key).search(text)
        if match:
            end = _NEXT_TOP_LEVEL.search(text, match.end())
            text = text[:match.start()] + (text[end.start():] if end else b"")
    return text


def _check_metadata(data):
    """Minimal shape check: catches empty and truncated files.

    Args:
        data: the parsed document.

    Returns:
        The problem as text, or None when the shape is right.
    """
    if not isinstance(data, dict):
        return f"{METADATA_FILE} is empty or not a mapping"
    if data.get("status") not in STORED_STATUSES:
        return f"{METADATA_FILE} has no valid status"
    for key in ("hyperparameters", "results"):
        if key in data and not isinstance(data[key], (dict, type(None))):
            return f"{METADATA_FILE}: {key} is not a mapping"
    return None
