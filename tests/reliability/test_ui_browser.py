"""``ml ui`` in a real browser: Debian's headless Chromium, driven by Playwright,
against the live ``ml ui`` of a copy of the session's trained digits project
(a second run copied from the first, for the compare page, and a review file
for the data page).

Every page loads without a console error, has an ``alt`` on each image and can
be walked with Tab alone, each control showing where the focus is; a cell of
the confusion matrix shows exactly that cell's test images; "Try it" gives the
label ``ml @name predict`` gives and a readable error for a file that is not an
image; a review action chosen on the data page is written to the review file;
the heatmap button draws the heatmap. Screenshots are kept in the test's
artifact folder (copied to ``$VERGEML_TEST_ARTIFACTS`` when set, and to
``docs/images/ui-<page>.png`` when ``VERGEML_UI_DOC_SHOTS`` is set).
"""
import csv
import json
import re
import shutil
import subprocess
import time
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from tests.conftest import ml_command, subprocess_env
from tests.reliability.browser_helpers import launched_chromium, require_chromium, screenshot_saver
from tests.server_process import ServerProcess

MODEL_TIMEOUT_MS = 60_000  # the first prediction or heatmap loads TensorFlow and the model
STARTUP_TIMEOUT = 60
SECOND_RUN = "copied-twin"  # the first run copied, for the compare page
REVIEW_HEADER = "kind,file,label,split,suggested,score,action"
DONE = re.compile(r"^Done:")
URL_LINE = re.compile(r"ml ui on (http://127\.0\.0\.1:\d+)/ ")
FOCUSABLE = ('a[href], button, select, textarea, input:not([type="hidden"]), '
             '[tabindex]:not([tabindex="-1"])')


@pytest.fixture(scope="module")
def ui_project(trained_digits, tmp_path_factory):
    """A copy of the trained digits project (the session's must stay as it is) with a
    second run (the first one's folder, renamed, another learning rate) and a review
    file of a few real samples: ``SimpleNamespace(project, name, other, preds, review)``."""
    source, name, _ = trained_digits
    project = tmp_path_factory.mktemp("ui-browser") / "digits"
    shutil.copytree(source, project, symlinks=True)
    other = project / "trainings" / SECOND_RUN
    shutil.copytree(project / "trainings" / name, other, symlinks=True)
    metadata = yaml.safe_load((other / "data.yaml").read_text())
    metadata["name"] = SECOND_RUN
    metadata["hyperparameters"]["learning_rate"] = 0.001
    (other / "data.yaml").write_text(yaml.safe_dump(metadata, sort_keys=False))
    with np.load(project / "trainings" / name / "stats" / "test_predictions.npz") as data:
        preds = SimpleNamespace(y_true=data["y_true"].astype(int).ravel(),
                                predicted=data["y_prob"].argmax(axis=1),
                                files=[str(f) for f in data["files"]])
    review = project / "doctor" / "review.csv"
    review.parent.mkdir()
    rows = [("label", f"samples/{preds.files[i]}", preds.files[i].split("/")[0], "test",
             str(preds.predicted[i]), "0.9", "keep") for i in range(3)]
    rows.append(("duplicate", f"samples/{preds.files[3]}", preds.files[3].split("/")[0], "test",
                 "", "1.0", "keep"))
    review.write_text(REVIEW_HEADER + "\n" + "".join(",".join(r) + "\n" for r in rows))
    return SimpleNamespace(project=project, name=name, other=SECOND_RUN, preds=preds, review=review)


@pytest.fixture(scope="module")
def live(ui_project, ml_env):
    """``(url, browser)``: ``ml ui`` in the project copy and headless Chromium, started side by
    side. Fails, never skips, when chromium is missing; at the end the server must stop cleanly."""
    require_chromium()
    server = ServerProcess([*ml_command(), "ui", "--port=0", "--no-browser"], ui_project.project,
                           ui_project.project.parent / "ui.err", subprocess_env(ml_env))
    try:
        with launched_chromium() as chromium:
            url = server.wait_for_line(URL_LINE, STARTUP_TIMEOUT, "ml ui").group(1)
            yield url, chromium
    finally:
        code = server.stop()
    errors = server.stderr()
    assert code == 0, f"ml ui exit code {code}: {errors[-2000:]}"
    assert "Traceback" not in errors, errors[-3000:]


@pytest.fixture(scope="module")
def url(live):
    return live[0]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """``save(page, name)``: a full-page screenshot in the artifact folder(s); a page of
    :data:`PAGES` also as ``docs/images/ui-<name>.png`` when ``VERGEML_UI_DOC_SHOTS`` is set."""
    return screenshot_saver(tmp_path_factory.mktemp("ui-browser-artifacts"), "ui-", PAGES)


def _cell(preds):
    """``(true, predicted)`` of a confusion cell with images: a wrong one when there is one."""
    wrong = np.flatnonzero(preds.predicted != preds.y_true)
    row = wrong[0] if len(wrong) else 0
    return int(preds.y_true[row]), int(preds.predicted[row])


def _paths(ui):
    """Page name -> path of every page of the server."""
    t, p = _cell(ui.preds)
    run = f"/run/{ui.name}"
    return {"runs": "/", "compare": f"/compare?run={ui.name}&run={ui.other}", "run": run,
            "gallery": f"{run}/images?true={t}&pred={p}", "wrong": f"{run}/images?wrong=1",
            "image": f"{run}/image?file={ui.preds.files[0]}", "data": "/data", "try": "/try"}


PAGES = ("runs", "compare", "run", "gallery", "wrong", "image", "data", "try")


def _open(page, url, path):
    """Load a page and everything it loads (the lazy images too); the response must be 200."""
    response = page.goto(url + path, wait_until="networkidle")
    assert response.status == 200, (path, response.status, page.inner_text("body")[:1000])
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_load_state("networkidle")
    page.evaluate("window.scrollTo(0, 0)")
    return response


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_without_console_errors(name, ui_project, url, page, artifacts):
    _open(page, url, _paths(ui_project)[name])
    assert page.locator("main h1").count() == 1
    artifacts(page, name)
    page.wait_for_load_state("networkidle")
    broken = page.eval_on_selector_all(
        "img[src]", "els => els.filter(e => e.complete && e.naturalWidth === 0).map(e => e.src)")
    assert broken == [], broken
    assert page.problems == [], page.problems


@pytest.mark.parametrize("name", PAGES)
def test_every_image_has_an_alt_text(name, ui_project, url, page):
    _open(page, url, _paths(ui_project)[name])
    missing = page.eval_on_selector_all(
        "img", "els => els.filter(e => !(e.getAttribute('alt') || '').trim()).map(e => e.outerHTML)")
    assert missing == [], missing
    assert page.locator("img").count() > 0 or name in ("runs", "data", "try")


@pytest.mark.parametrize("name", PAGES)
def test_tab_reaches_every_control_with_a_visible_focus(name, ui_project, url, page):
    _open(page, url, _paths(ui_project)[name])
    count = page.evaluate("""selector => {
        const shown = [...document.querySelectorAll(selector)].filter(
            e => !e.disabled && e.getClientRects().length > 0
                 && getComputedStyle(e).visibility !== 'hidden');
        shown.forEach((e, i) => { e.dataset.kbd = String(i); });
        return shown.length;
    }""", FOCUSABLE)
    assert count > 0
    names = page.evaluate("""() => [...document.querySelectorAll('[data-kbd]')].map(
        e => e.tagName.toLowerCase() + ' ' + (e.getAttribute('href') || e.name || e.id
             || e.textContent.trim()).slice(0, 80))""")
    seen, unseen_outline = set(), []
    for _ in range(count + 5):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => {
            const e = document.activeElement;
            if (!e || e === document.body || e.dataset.kbd === undefined) return null;
            const style = getComputedStyle(e);
            return [Number(e.dataset.kbd), style.outlineStyle, style.outlineWidth];
        }""")
        if focused is None:
            continue
        index, outline, width = focused
        seen.add(index)
        if outline == "none" or width in ("0px", ""):
            unseen_outline.append((names[index], outline, width))
    missed = [names[i] for i in range(count) if i not in seen]
    assert missed == [], f"{len(missed)} of {count} controls never focused by Tab: {missed[:20]}"
    assert unseen_outline == [], f"focused without a visible outline: {unseen_outline[:20]}"


def _gallery_files(page):
    """The file names of a gallery, over all its pages."""
    files = []
    while True:
        shown = page.locator(".gallery figure .file").all_inner_texts()
        alts = page.eval_on_selector_all(".gallery figure img", "els => els.map(e => e.alt)")
        assert [a.split(": ")[0] for a in alts] == shown  # the alt names the same file
        files += shown
        following = page.locator("a[rel=next]")
        if not following.count():
            return files
        with page.expect_navigation():
            following.first.click()


def test_confusion_cell_link_shows_exactly_its_images(ui_project, url, page):
    preds = ui_project.preds
    t, p = _cell(preds)
    expected = {f for f, yt, yp in zip(preds.files, preds.y_true, preds.predicted) if (yt, yp) == (t, p)}
    _open(page, url, f"/run/{ui_project.name}")
    cells = page.locator(f'table.confusion a[href*="true={t}&"][href$="pred={p}"]')
    assert cells.count() == 1
    assert cells.inner_text() == str(len(expected))
    with page.expect_navigation():
        cells.click()
    assert page.url.endswith(f"/run/{ui_project.name}/images?true={t}&pred={p}")
    files = _gallery_files(page)
    assert len(files) == len(set(files))
    assert set(files) == expected
    diagonal = {f for f, yt, yp in zip(preds.files, preds.y_true, preds.predicted) if yt == yp == t}
    _open(page, url, f"/run/{ui_project.name}")
    with page.expect_navigation():
        page.locator(f'table.confusion a[href*="true={t}&"][href$="pred={t}"]').click()
    assert set(_gallery_files(page)) == diagonal
    assert page.problems == [], page.problems


def test_try_page_gives_the_label_of_ml_predict(ui_project, url, page, artifacts, ml_env, tmp_path):
    from playwright.sync_api import expect
    digit = ui_project.project / "samples" / ui_project.preds.files[0]
    command = subprocess.Popen(  # TensorFlow loads in both meanwhile
        [*ml_command(), f"@{ui_project.name}", "predict", "--format=json", str(digit)],
        cwd=ui_project.project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=subprocess_env(ml_env))
    try:
        _open(page, url, f"/try?run={ui_project.name}")
        page.set_input_files("#try-files", str(digit))
        expect(page.locator("#try-status")).to_have_text(DONE, timeout=MODEL_TIMEOUT_MS)
        first = page.locator("#try-results .result").first
        assert first.locator("h2").inner_text() == digit.name
        shown = first.locator("ol.labels li").first.inner_text().rsplit(" ", 1)[0]
        out, err = command.communicate(timeout=120)
    finally:
        if command.poll() is None:
            command.kill()
            command.communicate()
    assert command.returncode == 0, err[-3000:]
    assert shown == json.loads(out)[0]["prediction"][0]["label"]

    notes = tmp_path / "notes.txt"
    notes.write_text("these are notes, not an image\n")
    page.set_input_files("#try-files", str(notes))
    alert = page.locator("#try-results .result").first.locator("[role=alert]")
    alert.wait_for()
    expect(page.locator("#try-status")).to_have_text(DONE)
    text = alert.inner_text()
    assert "notes.txt" in text and "not a valid image" in text, text
    assert "Traceback" not in text and not text.lstrip().startswith("{"), text
    artifacts(page, "try-error")

    page.set_input_files("#try-files", str(digit))
    expect(page.locator("#try-results .result")).to_have_count(3)
    expect(page.locator("#try-status")).to_have_text(DONE)
    again = page.locator("#try-results .result").first
    assert again.locator("ol.labels li").first.inner_text().rsplit(" ", 1)[0] == shown
    assert again.locator("[role=alert]").count() == 0
    missing = page.eval_on_selector_all("img", "els => els.filter(e => !e.alt.trim()).length")
    assert missing == 0
    # The one console error is the browser's note of the 400 answer to the text file.
    assert all("status of 400" in problem for problem in page.problems), page.problems


def _review_actions(path):
    with open(path, newline="") as handle:
        return {row["file"]: row["action"] for row in csv.DictReader(handle)}


def test_data_page_writes_the_chosen_action(ui_project, url, page):
    before = _review_actions(ui_project.review)
    target = list(before)[1]
    _open(page, url, "/data")
    figure = page.locator("figure", has=page.locator(".file", has_text=target))
    assert figure.count() == 1
    figure.locator("select").select_option("remove")
    deadline = time.monotonic() + 5
    while _review_actions(ui_project.review)[target] != "remove" and time.monotonic() < deadline:
        time.sleep(0.1)
    after = _review_actions(ui_project.review)
    assert after == {**before, target: "remove"}
    assert figure.locator(".saved").inner_text().strip() == "saved"
    assert page.problems == [], page.problems


def test_heatmap_button_draws_the_heatmap(ui_project, url, page, artifacts):
    _open(page, url, _paths(ui_project)["image"])
    page.get_by_role("button", name="Show what the prediction looked at").click()
    heatmap = page.locator("#heatmap")
    heatmap.wait_for(state="visible", timeout=MODEL_TIMEOUT_MS)
    deadline = time.monotonic() + 10  # (wait_for_function evaluates a string: the CSP forbids it)
    while not heatmap.evaluate("e => e.complete && e.naturalWidth > 0") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert heatmap.evaluate("e => e.naturalWidth") > 0
    assert page.inner_text("#heatmap-status") == ""
    artifacts(page, "image-heatmap")
    assert page.problems == [], page.problems

