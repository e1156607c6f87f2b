"""The guard of ``tests/unit/``: a unit test checks logic only.

An autouse fixture, :func:`unit_guard`, fails a unit test that

(a) imports TensorFlow or Keras: a package of :data:`HEAVY` that was not in
    ``sys.modules`` when the test's setup began but is after its teardown
    (the snapshot is taken by the ``pytest_runtest_setup`` hook below, so a
    module-scoped fixture that builds a Keras model counts too). A package
    that was already loaded is never held against a test: unit tests run
    first in a session (``testpaths`` in pytest.ini), but whoever runs
    ``pytest tests/integration tests/unit`` gets no false failures, only a
    weaker check. The test is reported as an error at its teardown, with
    the package named;
(b) starts a subprocess: ``subprocess.Popen`` (so ``subprocess.run`` and the
    rest) raises :class:`UnitGuardError` before any child exists;
(c) opens a listening socket: ``socket.socket.listen`` raises
    :class:`UnitGuardError` (binding a port to learn a free one is fine).

Such tests belong in ``tests/integration/`` (real weights, TensorFlow/Keras
models, live servers) or ``tests/e2e/`` (``ml`` or ``python -c`` children).
"""
import socket
import subprocess
import sys

import pytest

HEAVY = ("tensorflow", "keras")
"""Top-level packages a unit test must not import (read at check time)."""

_BEFORE = pytest.StashKey[frozenset]()


class UnitGuardError(RuntimeError):
    """A unit test did what only an integration or e2e test may do."""


def loaded_heavy(modules=None):
    """The packages of :data:`HEAVY` present in ``modules`` (default ``sys.modules``).

    A ``None`` entry is not a loaded module: it is how a test makes an import
    fail (``monkeypatch.setitem(sys.modules, "keras", None)``).
    """
    modules = sys.modules if modules is None else modules
    return frozenset(name for name in HEAVY if modules.get(name) is not None)


def newly_imported(before, after):
    """Heavy packages loaded in ``after`` but not in ``before`` (sorted names).

    Args:
        before: module names (or a ``sys.modules``-like mapping) before the test.
        after: the same after the test.
    """
    def as_mapping(m):
        return m if isinstance(m, dict) else dict.fromkeys(m, True)
    return sorted(loaded_heavy(as_mapping(after)) - loaded_heavy(as_mapping(before)))


def import_violation(before, after, test="this test"):
    """What ``test`` did wrong when it imported a heavy package, else None."""
    new = newly_imported(before, after)
    if not new:
        return None
    return (f"{test} imported {', '.join(new)}: unit tests must not import TensorFlow or Keras; "
            "move it to tests/integration/ (or tests/e2e/ when it runs ml in a subprocess)")


def check_imports(before, after, test="this test"):
    """Raise :class:`UnitGuardError` when ``test`` imported a heavy package."""
    message = import_violation(before, after, test)
    if message:
        raise UnitGuardError(message)


def _subprocess_refuser(before):
    """A ``Popen.__init__`` that raises; it names the import when one started the child
    (importing TensorFlow runs ``uname -p``)."""
    def refuse(self, args, *rest, **kwargs):
        importing = sorted(loaded_heavy() - before)
        if importing:
            raise UnitGuardError(
                f"unit tests must not import {', '.join(importing)} (the import started "
                f"{args!r}); move the test to tests/integration/")
        raise UnitGuardError(
            f"unit tests must not start a subprocess ({args!r}); move the test to tests/e2e/")
    return refuse


def _refuse_listen(self, *args, **kwargs):
    raise UnitGuardError(
        f"unit tests must not open a listening socket ({self!r}); "
        "move the test to tests/integration/")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    """Note the heavy packages loaded before any fixture of ``item`` is set up."""
    item.stash[_BEFORE] = loaded_heavy()
    return (yield)


@pytest.fixture(autouse=True)
def unit_guard(request):
    """Refuse subprocesses and listening sockets; fail on a new TensorFlow/Keras import."""
    before = request.node.stash.get(_BEFORE, None)
    if before is None:
        before = loaded_heavy()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "__init__", _subprocess_refuser(before))
        patch.setattr(socket.socket, "listen", _refuse_listen)
        yield
    message = import_violation(before, sys.modules, request.node.nodeid)
    if message:
        pytest.fail(message, pytrace=False)
