"""The service's own pages in a real browser: Debian's headless Chromium, driven
by Playwright, against the live ``ml @name run:rest`` of a trained digits
instance. It opens ``GET /`` and the ``/predict`` form, uploads a real digit
and a real photo, and reads the predicted label off the page; a broken upload
must show a readable error, not a stack trace or raw JSON. Screenshots are kept
in the test's artifact folder (copied to ``$VERGEML_TEST_ARTIFACTS`` when set).
"""
import json
from pathlib import Path

import pytest
from PIL import Image

from tests.reliability.browser_helpers import launched_chromium, require_chromium, screenshot_saver
from tests.reliability.rest_helpers import digit_images, serving, top_labels


@pytest.fixture(scope="module")
def live(trained_digits, ml_env, tmp_path_factory):
    """``(server, browser)``: the server and headless Chromium, started side by
    side (both take seconds). Fails, never skips, when chromium is missing."""
    require_chromium()
    project, name, _ = trained_digits
    with serving(project, name, ml_env, folder=tmp_path_factory.mktemp("rest-browser"),
                 wait=False) as srv, launched_chromium() as chromium:
        srv.wait_ready()
        yield srv, chromium


@pytest.fixture(scope="module")
def server(live):
    return live[0]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """``save(page, name)``: a full-page screenshot in the artifact folder(s)."""
    return screenshot_saver(tmp_path_factory.mktemp("browser-artifacts"))


@pytest.fixture(scope="module")
def uploads(server, tmp_path_factory):
    """Files to upload, with the label the JSON API gives each.

    Returns:
        ``{"digit": (path, label), "photo": (path, label), "broken": (path, None)}``;
        the digit is one the model gets right.
    """
    folder = tmp_path_factory.mktemp("uploads")
    digits = digit_images(10)
    status, result = server.predict_json([(n, d) for n, d, _ in digits])
    assert status == 200
    name, data, label = next(d for d, p in zip(digits, top_labels(result)) if p == d[2])
    (folder / name).write_bytes(data)
    photo = folder / "chelsea.jpg"  # scikit-image's photo of a cat, as a camera JPEG
    Image.open(_skimage_file("chelsea.png")).convert("RGB").save(photo, "JPEG", quality=90)
    status, result = server.predict_json([(photo.name, photo.read_bytes())])
    assert status == 200
    broken = folder / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a PNG")
    return {"digit": (folder / name, label), "photo": (photo, result[0]["prediction"][0]["label"]),
            "broken": (broken, None)}


def _skimage_file(name):
    import skimage.data
    return Path(skimage.data.__file__).parent / name


def _no_stack_trace(page):
    text = page.inner_text("body")
    assert "Traceback" not in text and 'File "' not in text, text[:2000]
    return text


def test_explorer_page_shows_the_predicted_labels(server, page, uploads, artifacts):
    page.goto(server.url + "/")
    assert f"@{server.name}" in page.title()
    (digit, label), (photo, photo_label) = uploads["digit"], uploads["photo"]
    page.set_input_files("#form input[name=files]", [str(digit), str(photo)])
    page.click("#form button[type=submit]")
    page.wait_for_selector("#results .result:nth-child(2)")
    captions = page.locator("#results caption").all_inner_texts()
    assert captions == [digit.name, photo.name]
    tops = [page.locator(f"#results .result:nth-child({i}) tr:first-child td:nth-child(2)").inner_text()
            for i in (1, 2)]
    assert tops == [label, photo_label]
    assert "STATUS 200" in page.inner_text("#status")
    artifacts(page, "explorer-predicted")


def test_predict_form_shows_the_predicted_label(server, page, uploads, artifacts):
    page.goto(server.url + "/predict")
    digit, label = uploads["digit"]
    page.set_input_files("input[name=files]", str(digit))
    page.fill("input[name=labels]", "3")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.inner_text("#label-0") == label
    assert page.inner_text("h3") == digit.name
    assert page.locator("table tr").count() == 3
    _no_stack_trace(page)
    artifacts(page, "predict-form-result")


def test_broken_upload_shows_a_readable_error_page(server, page, uploads, artifacts):
    page.goto(server.url + "/predict")
    broken, _ = uploads["broken"]
    page.set_input_files("input[name=files]", str(broken))
    with page.expect_navigation() as navigation:
        page.click("button[type=submit]")
    assert navigation.value.status == 400
    text = _no_stack_trace(page)
    assert page.inner_text("h2") == "400 Bad Request"
    assert "broken.png: not a valid image" in page.inner_text(".error")
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)  # a page for people, not the API's JSON
    artifacts(page, "predict-form-error")


def test_broken_upload_on_the_explorer_page(server, page, uploads, artifacts):
    page.goto(server.url + "/")
    broken, _ = uploads["broken"]
    page.set_input_files("#form input[name=files]", str(broken))
    page.click("#form button[type=submit]")
    page.wait_for_selector("#results .error")
    assert "broken.png: not a valid image" in page.inner_text("#results .error")
    assert "STATUS 400" in page.inner_text("#status")
    _no_stack_trace(page)
    artifacts(page, "explorer-error")
