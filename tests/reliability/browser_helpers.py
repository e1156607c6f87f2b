"""Headless Chromium for the browser tests (no tests here): Debian's
``/usr/bin/chromium`` driven by Playwright, a fresh tab a test, and full-page
screenshots kept in the test's artifact folder (copied to
``$VERGEML_TEST_ARTIFACTS`` when set).
"""
import contextlib
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 30_000
VIEWPORT = {"width": 1100, "height": 800}


def require_chromium():
    """Fail, never skip, when Debian's chromium is missing (call it before starting anything)."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium; "
                    "the Makefile's test target does it)")


@contextlib.contextmanager
def launched_chromium():
    """Playwright and headless :data:`CHROMIUM`: yields the browser, closed at the end."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def browser_tab(browser):
    """A fresh tab in a new context (:data:`VIEWPORT`, :data:`TIMEOUT_MS`), closed at the end.
    Its ``.problems`` collects console errors and uncaught exceptions (a resource that fails
    to load is a console error too)."""
    context = browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    tab.problems = []
    tab.on("console", lambda msg: tab.problems.append(f"console: {msg.text} ({msg.location})")
           if msg.type == "error" else None)
    tab.on("pageerror", lambda err: tab.problems.append(f"pageerror: {err}"))
    try:
        yield tab
    finally:
        context.close()


def screenshot_saver(folder, prefix="", doc_pages=()):
    """``save(page, name)``: a full-page screenshot ``folder/<prefix><name>.png`` (it must
    be over 1,000 bytes), copied to ``$VERGEML_TEST_ARTIFACTS`` when set and, for a name in
    ``doc_pages``, to ``docs/images/`` when ``VERGEML_UI_DOC_SHOTS`` is set. ``save``
    returns the path it wrote last."""
    extra = os.environ.get("VERGEML_TEST_ARTIFACTS")

    def save(page, name):
        path = folder / f"{prefix}{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000
        if os.environ.get("VERGEML_UI_DOC_SHOTS") and name in doc_pages:
            shutil.copy2(path, REPO / "docs" / "images" / path.name)
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            path = Path(shutil.copy2(path, Path(extra) / path.name))
        print(f"\nscreenshot: {path}")
        return path
    return save
