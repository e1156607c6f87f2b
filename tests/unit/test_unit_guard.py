"""The guard of tests/unit (tests/unit/conftest.py) can fail: a guard that cannot is worthless.

Subprocesses and listening sockets are refused in this very test process;
the import check is shown on fake before/after sets and, end to end, on an
inner pytest run (pytester, in-process) whose test imports a stand-in package.
"""
import socket
import subprocess
import sys
import types

import pytest

from tests.unit import conftest as guard
from tests.unit.conftest import UnitGuardError, check_imports, newly_imported


# -- (a) TensorFlow or Keras imported by the test ------------------------------------

def test_only_a_heavy_package_absent_before_and_present_after_counts():
    assert newly_imported(set(), {"tensorflow", "keras", "numpy"}) == ["keras", "tensorflow"]
    assert newly_imported(set(), {"keras.src", "numpy"}) == []  # a package is its top-level name
    assert newly_imported({"numpy"}, {"numpy", "yaml"}) == []
    # Loaded before (an integration test ran first in the session): never held against the test.
    assert newly_imported({"tensorflow", "keras"}, {"tensorflow", "keras"}) == []
    assert newly_imported({"tensorflow"}, {"tensorflow", "keras"}) == ["keras"]


def test_a_blocked_import_is_not_a_loaded_module():
    """``monkeypatch.setitem(sys.modules, "keras", None)`` makes ``import keras`` fail."""
    assert newly_imported({}, {"keras": None}) == []
    assert newly_imported({"keras": None}, {"keras": object()}) == ["keras"]


def test_check_imports_names_the_test_and_the_package():
    check_imports(set(), {"numpy"}, "test_x")
    with pytest.raises(UnitGuardError, match="test_x imported tensorflow: .*tests/integration/"):
        check_imports({"numpy"}, {"numpy", "tensorflow"}, "test_x")


INNER_CONFTEST = """
from tests.unit.conftest import pytest_runtest_setup, unit_guard  # noqa: F401 (the guard)
"""

INNER_TESTS = """
import preloaded_heavy  # imported at collection, before any test: not the test's doing


def test_imports_a_heavy_package():
    import fake_heavy  # noqa: F401


def test_imports_a_heavy_package_in_a_module_fixture(heavy_model):
    pass


def test_uses_what_was_loaded_before():
    import preloaded_heavy  # noqa: F401,F811


def test_imports_nothing_heavy():
    import json  # noqa: F401
"""

INNER_FIXTURES = """
import pytest


@pytest.fixture(scope="module")
def heavy_model():
    import fixture_heavy  # noqa: F401
"""


def test_the_autouse_fixture_fails_a_test_that_imports_a_heavy_package(pytester, monkeypatch):
    # Stand-ins for tensorflow and keras, which may be loaded already in this session.
    monkeypatch.setattr(guard, "HEAVY", ("fake_heavy", "preloaded_heavy", "fixture_heavy"))
    pytester.makeconftest(INNER_CONFTEST + INNER_FIXTURES)
    pytester.makepyfile(fake_heavy="", preloaded_heavy="", fixture_heavy="",
                        test_inner=INNER_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_imports_a_heavy_package*",
        "*test_imports_a_heavy_package imported fake_heavy: unit tests must not import*",
        "*ERROR at teardown of test_imports_a_heavy_package_in_a_module_fixture*",
        "*imported fixture_heavy*",
    ])
    assert "preloaded_heavy:" not in result.stdout.str()


# -- (b) a subprocess, (c) a listening socket ------------------------------------------

def test_a_subprocess_is_refused_before_any_child_exists():
    with pytest.raises(UnitGuardError, match=r"must not start a subprocess .*tests/e2e/"):
        subprocess.run([sys.executable, "-c", "pass"])
    with pytest.raises(UnitGuardError, match="must not start a subprocess"):
        subprocess.Popen(["true"])


def test_a_subprocess_started_by_a_heavy_import_names_the_import(monkeypatch):
    """Importing TensorFlow runs ``uname -p``: the error says the import is the trouble."""
    monkeypatch.setattr(guard, "HEAVY", ("half_imported_heavy",))
    monkeypatch.setitem(sys.modules, "half_imported_heavy", types.ModuleType("half_imported_heavy"))
    with pytest.raises(UnitGuardError, match=r"must not import half_imported_heavy \(the import "
                                             r"started \['uname', '-p'\]\); .*tests/integration/"):
        subprocess.Popen(["uname", "-p"])


def test_a_listening_socket_is_refused_but_binding_is_fine():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # how tests learn a free port
        assert sock.getsockname()[1] > 0
        with pytest.raises(UnitGuardError, match="must not open a listening socket"):
            sock.listen()


def test_a_server_cannot_start():
    from http.server import HTTPServer, SimpleHTTPRequestHandler
    with pytest.raises(UnitGuardError, match="listening socket .*tests/integration/"):
        HTTPServer(("127.0.0.1", 0), SimpleHTTPRequestHandler)
