"""Named fault points: a test hook that stops ``ml`` at an exact moment.

Reliability tests need to kill or signal ``ml train`` at a precise point
(between writing a checkpoint's temp file and renaming it, say), which sleeps
cannot hit reliably. Code marks such moments with :func:`point`; the hook does
nothing unless the environment asks for it:

``VERGEML_FAULT_POINT``
    The point to act at: its name (``checkpoint.write``), or its name and
    detail (``file.replace:state.json``); shell wildcards are allowed
    (``file.replace:last-*.weights.h5``).
``VERGEML_FAULT_ACTION``
    ``kill`` (SIGKILL to this process), ``sigint``, ``sigterm`` (sent to this
    process, so the normal handlers run), ``raise`` (an ``OSError``), or
    ``pause`` (default): create the file named by ``VERGEML_FAULT_FILE`` and
    wait until the test deletes it.
``VERGEML_FAULT_HIT``
    Act on the n-th time a matching point is reached (default 1).
``VERGEML_FAULT_FILE``
    For ``pause``: the file that signals "paused here" to the test.

Every point reached is also appended to ``VERGEML_FAULT_TRACE`` (a file path)
when that is set, as ``name`` or ``name:detail``, so a test can check that a
point exists and is reached. Nothing here imports more than the standard
library, and an unset hook costs two dictionary look-ups per point.
"""
import os
import signal
import time

_ACTIONS = ("kill", "sigint", "sigterm", "raise", "pause")
_counts = {}


def active():
    """Whether the hook is set at all (code may skip building per-batch points when not).

    Returns:
        True when ``VERGEML_FAULT_POINT`` or ``VERGEML_FAULT_TRACE`` is set.
    """
    return bool(os.environ.get("VERGEML_FAULT_POINT") or os.environ.get("VERGEML_FAULT_TRACE"))


def point(name, detail=None):
    """Mark a moment where a test may stop or signal ``ml``.

    Args:
        name: the point's name, ``area.moment`` (e.g. ``extraction.batch``).
        detail: what the moment is about, when one name serves many (the file
            name of ``file.replace``); the point is then ``name:detail``.

    Raises:
        OSError: when the hook's action is ``raise`` at this point.
    """
    wanted, trace = os.environ.get("VERGEML_FAULT_POINT"), os.environ.get("VERGEML_FAULT_TRACE")
    if not wanted and not trace:
        return
    full = name if detail is None else f"{name}:{detail}"
    if trace:
        with open(trace, "a", encoding="utf-8") as handle:
            handle.write(full + "\n")
    if wanted and matches(wanted, name, full):
        _counts[wanted] = _counts.get(wanted, 0) + 1
        if _counts[wanted] == int(os.environ.get("VERGEML_FAULT_HIT", "1")):
            _act(os.environ.get("VERGEML_FAULT_ACTION", "pause"), full)


def matches(wanted, name, full):
    """Whether the pattern ``wanted`` selects the point ``name`` (``full``: with its detail).

    Args:
        wanted: ``VERGEML_FAULT_POINT``: a name, ``name:detail``, or a shell pattern.
        name: the point's name.
        full: ``name:detail``, or ``name`` when it has none.

    Returns:
        True when ``wanted`` is the name, the full name, or a pattern matching the full name.
    """
    if wanted in (name, full):
        return True
    from fnmatch import fnmatchcase
    return fnmatchcase(full, wanted)


def _act(action, name):
    """Carry out ``action`` at point ``name``."""
    if action not in _ACTIONS:
        raise ValueError(f"VERGEML_FAULT_ACTION={action!r}: expected one of {', '.join(_ACTIONS)}")
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action in ("sigint", "sigterm"):
        os.kill(os.getpid(), signal.SIGINT if action == "sigint" else signal.SIGTERM)
        # The handler runs between bytecodes of the main thread; give it the
        # chance here, at the point, rather than somewhere later.
        time.sleep(0.5)
    elif action == "raise":
        raise OSError(f"fault injected at {name}")
    else:
        _pause(os.environ.get("VERGEML_FAULT_FILE"))


def _pause(flag):
    """Create ``flag`` and wait until someone deletes it (or a signal ends us)."""
    if not flag:
        raise ValueError("VERGEML_FAULT_ACTION=pause needs VERGEML_FAULT_FILE")
    # Written beside and renamed, so a test that sees the file sees the whole pid
    # (not through fileutil: its own fault point would count as a hit).
    with open(flag + ".writing", "w", encoding="utf-8") as handle:
        handle.write(str(os.getpid()))
    os.replace(flag + ".writing", flag)
    while os.path.exists(flag):
        time.sleep(0.05)
