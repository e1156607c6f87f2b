"""Fixtures for the reliability tests (faults, bad input, load, a browser).

They reuse the end-to-end fixtures: a real ``ml`` in a subprocess, the offline
MobileNet weights, the session's digits project. Tests that take long are
marked ``slow`` (``make test-all`` only); the rest run in ``make test``.

The browser tests' module defines ``live`` (``(server or URL, browser)``); ``browser``
and ``page`` here come from it.
"""
import pytest

from tests.e2e.conftest import (
    digits_project, ml_env, session_keras_home, trained_digits)
from tests.reliability.browser_helpers import browser_tab


@pytest.fixture(scope="module")
def browser(live):
    """The headless Chromium of the module's ``live`` fixture."""
    return live[1]


@pytest.fixture
def page(browser):
    """A fresh tab of ``browser`` (:func:`~tests.reliability.browser_helpers.browser_tab`):
    its ``.problems`` collects console errors and uncaught exceptions."""
    with browser_tab(browser) as tab:
        yield tab
