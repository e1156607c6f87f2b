"""``ml ui``'s pages through its WSGI app (werkzeug's test client; no server, no TensorFlow)
on a synthetic project written as ``ml train`` and ``ml doctor --review`` write theirs:
the runs table, a run, its confusion matrix and the galleries behind each count, the
charts, the comparison, the data page's review actions, apply and undo, and the uploads
of "Try it" answered over a fake predictor. Bad input is a readable page with the right
status, and the next request is served as usual.
"""
import io
import re
import xml.etree.ElementTree as ElementTree
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from tests.conftest import encode_multipart
from tests.ui_helpers import (LABELS, RUNS, gallery_files, hrefs, make_ui_project, png_bytes, table_rows,
                              ui_client, ui_context, write_run)
from vergeml.errors import VergeMLError
from vergeml.models.model_base import Predictor
from vergeml.services.ui.page_shell import PAGE_SIZE

MB = 1024 * 1024


@pytest.fixture(scope="module")
def shown(tmp_path_factory):
    """A project of four runs (two in grid g1), read only by the tests that use it:
    ``(project, files, {run: (y_true, y_prob)}, client)``."""
    project, files, stored = make_ui_project(tmp_path_factory.mktemp("ui") / "proj")
    return project, files, stored, ui_client(ui_context(project))


@pytest.fixture
def own(tmp_path):
    """A project of its own for a test that changes it: ``(project, files, stored)``."""
    return make_ui_project(tmp_path / "proj", runs={"alpha-run": RUNS["alpha-run"]}, per_class=10)


def text_of(response):
    return response.get_data(as_text=True)


def messages(response):
    """The texts of the boxed messages of a page."""
    import html
    return [html.unescape(m) for m in re.findall(r'<p class="message [^"]*"[^>]*>(.*?)</p>', text_of(response))]


def run_links(html_text):
    """The run names the runs table links to, in table order."""
    return [h.split("/", 2)[2] for h in hrefs(html_text) if re.fullmatch(r"/run/[^/?]+", h)]


def assert_still_serving(client):
    assert client.get("/").status_code == 200


# -- the runs page ------------------------------------------------------------------------

def test_the_runs_page_lists_every_run(shown):
    _, _, _, client = shown
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert sorted(run_links(text_of(response))) == sorted(RUNS)
    rows = table_rows(text_of(response))
    for name, (acc, *_) in RUNS.items():
        row = next(r for r in rows if name in r)
        assert f"{acc:.3f}" in row and "finished" in row


def test_a_filter_keeps_only_the_matching_runs(shown):
    _, _, _, client = shown
    response = client.get("/", query_string={"q": "test_acc -gt 0.8"})
    assert response.status_code == 200
    assert sorted(run_links(text_of(response))) == ["alpha-run", "gamma-run"]
    assert sorted(run_links(text_of(client.get("/?q=test_acc+-lte+0.72")))) == ["beta-run", "delta-run"]
    # Other words match the name.
    assert run_links(text_of(client.get("/?q=beta"))) == ["beta-run"]
    assert run_links(text_of(client.get("/?status=broken"))) == []
    assert "No runs match." in messages(client.get("/?q=nothing-matches"))


def test_a_filter_not_understood_is_said_on_the_page(shown):
    _, _, _, client = shown
    response = client.get("/", query_string={"q": "test_acc -gt"})
    assert response.status_code == 200
    assert any(m.startswith("filter not understood") for m in messages(response))
    assert sorted(run_links(text_of(response))) == sorted(RUNS)


def test_sorting_keeps_a_grids_runs_together(shown):
    """Sorted by test_acc; the runs of grid g1 (gamma 0.85, delta 0.65) stand together
    where the better placed of them stands."""
    _, _, _, client = shown
    ascending = run_links(text_of(client.get("/?sort=test_acc&desc=0")))
    assert ascending == ["delta-run", "gamma-run", "beta-run", "alpha-run"]
    descending = run_links(text_of(client.get("/?sort=test_acc&desc=1")))
    assert descending == ["alpha-run", "gamma-run", "delta-run", "beta-run"]
    # The default: newest first (training_start).
    assert run_links(text_of(client.get("/"))) == ["delta-run", "gamma-run", "beta-run", "alpha-run"]


def test_the_runs_of_a_grid_are_grouped_under_its_header(shown):
    _, _, _, client = shown
    page = text_of(client.get("/?sort=test_acc&desc=1"))
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr[^>]*>.*?</tr>", body)
    headers = [i for i, row in enumerate(rows) if row.startswith('<tr class="group">')]
    assert len(headers) == 1
    assert "grid g1" in rows[headers[0]]
    assert "/compare?grid=g1" in rows[headers[0]]
    grouped = [run_links(row) for row in rows[headers[0] + 1:headers[0] + 3]]
    assert grouped == [["gamma-run"], ["delta-run"]]


# -- one run --------------------------------------------------------------------------------

def test_a_run_page_shows_results_hyperparameters_and_charts(shown):
    _, _, _, client = shown
    response = client.get("/run/alpha-run")
    assert response.status_code == 200
    page = text_of(response)
    rows = table_rows(page)
    assert ["test_acc", "0.910"] in rows
    assert ["learning_rate", "0.001"] in rows
    assert any(row[0] == "cats" and len(row) == 4 for row in rows)  # per-label metrics
    for chart in ("/run/alpha-run/curves.svg?metric=acc", "/run/alpha-run/curves.svg?metric=loss",
                  "/run/alpha-run/roc.svg", "/run/alpha-run/pr.svg"):
        assert f'src="{chart.replace("&", "&amp;")}"' in page
    assert 'class="confusion"' in page


def confusion_links(page, name):
    """``{(true, pred): (href, count shown)}`` of the confusion matrix's links."""
    cells = {}
    for href, count in re.findall(r'<td class="(?:hit|miss)"[^>]*><a href="([^"]+)"[^>]*>(\d+)</a>', page):
        href = href.replace("&amp;", "&")
        parts = urlsplit(href)
        assert parts.path == f"/run/{name}/images"
        query = parse_qs(parts.query)
        cells[int(query["true"][0]), int(query["pred"][0])] = (href, int(count))
    return cells


def all_gallery_files(client, href):
    """The files of every page of a gallery, following its "next" links."""
    files, pages = [], 0
    while href:
        response = client.get(href)
        assert response.status_code == 200, text_of(response)[-500:]
        page = text_of(response)
        files += gallery_files(page)
        nxt = re.search(r'<a href="([^"]+)" rel="next">', page)
        href = nxt.group(1).replace("&amp;", "&") if nxt else None
        pages += 1
        assert pages < 20
    return files


def test_each_confusion_cell_links_to_exactly_its_images(shown):
    _, files, stored, client = shown
    y_true, y_prob = stored["alpha-run"]
    predicted = y_prob.argmax(axis=1)
    cells = confusion_links(text_of(client.get("/run/alpha-run")), "alpha-run")
    expected_cells = {(t, p) for t in range(len(LABELS)) for p in range(len(LABELS))
                      if ((y_true == t) & (predicted == p)).any()}
    assert set(cells) == expected_cells
    assert any(t != p for t, p in cells)  # some are wrong, so the test means something
    seen = []
    for (t, p), (href, count) in cells.items():
        rows = np.flatnonzero((y_true == t) & (predicted == p))
        expected = {files[i] for i in rows}
        shown_files = all_gallery_files(client, href)
        assert len(shown_files) == len(set(shown_files)) == count == len(rows)
        assert set(shown_files) == expected, (t, p)
        # The most confident first.
        probabilities = [y_prob[files.index(f), p] for f in shown_files]
        assert probabilities == sorted(probabilities, reverse=True)
        seen += shown_files
    assert sorted(seen) == sorted(files)


def test_the_wrong_images_come_most_confident_first(shown):
    _, files, stored, client = shown
    y_true, y_prob = stored["beta-run"]
    predicted = y_prob.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_true)
    order = sorted(wrong, key=lambda i: -y_prob[i, predicted[i]])
    page = text_of(client.get("/run/beta-run"))
    assert f"The {len(wrong)} wrong test images" in page
    href = next(h for h in hrefs(page) if "wrong=1" in h)
    shown_files = all_gallery_files(client, href)
    assert shown_files == [files[i] for i in order]
    wrong_probabilities = [y_prob[files.index(f)].max() for f in shown_files]
    assert wrong_probabilities == sorted(wrong_probabilities, reverse=True)
    assert all(y_prob[files.index(f)].argmax() != y_true[files.index(f)] for f in shown_files)


def test_a_gallery_of_more_than_a_page_is_paginated(shown):
    _, files, stored, client = shown
    y_true, y_prob = stored["alpha-run"]
    predicted = y_prob.argmax(axis=1)
    big = [(t, p) for t in range(len(LABELS)) for p in range(len(LABELS))
           if ((y_true == t) & (predicted == p)).sum() > PAGE_SIZE]
    assert big, "the synthetic project needs a cell of more than a page"
    t, p = big[0]
    total = int(((y_true == t) & (predicted == p)).sum())
    first = text_of(client.get(f"/run/alpha-run/images?true={t}&pred={p}"))
    assert len(gallery_files(first)) == PAGE_SIZE
    assert f"1–{PAGE_SIZE} of {total}" in first
    assert 'rel="next"' in first and 'rel="prev"' not in first
    second = text_of(client.get(f"/run/alpha-run/images?true={t}&pred={p}&page=2"))
    assert len(gallery_files(second)) == total - PAGE_SIZE
    assert f"{PAGE_SIZE + 1}–{total} of {total}" in second
    assert 'rel="prev"' in second and 'rel="next"' not in second
    assert not set(gallery_files(first)) & set(gallery_files(second))
    # A page past the end shows the last one.
    assert gallery_files(text_of(client.get(f"/run/alpha-run/images?true={t}&pred={p}&page=99"))) \
        == gallery_files(second)


def test_a_gallerys_thumbnails_and_links_name_the_test_files(shown):
    _, files, _, client = shown
    page = text_of(client.get("/run/alpha-run/images?wrong=1"))
    file = gallery_files(page)[0]
    links = hrefs(page)
    assert f"/run/alpha-run/image?file={file.replace('/', '%2F')}" in links
    thumbnail = client.get("/thumb", query_string={"root": "samples", "file": file})
    assert thumbnail.status_code == 200 and thumbnail.headers["Content-Type"] == "image/jpeg"
    one = client.get("/run/alpha-run/image", query_string={"file": file})
    assert one.status_code == 200
    probabilities = [row for row in table_rows(text_of(one)) if len(row) == 2 and row[1].endswith("%")]
    assert sorted(label for label, _ in probabilities) == sorted(LABELS)
    missing = client.get("/run/alpha-run/image", query_string={"file": "cats/not-a-test-file.png"})
    assert missing.status_code == 404
    assert "is not a test image of @alpha-run" in messages(missing)[0]


@pytest.mark.parametrize("query, status, text", [
    ("true=x&pred=0", 400, "'true' must be a whole number"),
    ("true=0", 400, "'pred' must be a whole number"),
    ("true=9&pred=0", 422, "no class number 9"),
    ("true=-1&pred=0", 422, "no class number -1"),
])
def test_a_bad_gallery_query_is_a_readable_error(shown, query, status, text):
    _, _, _, client = shown
    response = client.get(f"/run/alpha-run/images?{query}")
    assert response.status_code == status
    assert text in messages(response)[0]
    assert_still_serving(client)


def is_svg(response):
    assert response.status_code == 200, text_of(response)[-300:]
    assert response.headers["Content-Type"] == "image/svg+xml"
    root = ElementTree.fromstring(response.data)  # well-formed XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def test_the_charts_are_well_formed_svg(shown):
    _, _, _, client = shown
    for path in ("/run/alpha-run/curves.svg", "/run/alpha-run/curves.svg?metric=loss",
                 "/run/alpha-run/curves.svg?metric=nonsense", "/run/alpha-run/roc.svg",
                 "/run/alpha-run/pr.svg", "/compare/curves.svg?run=alpha-run&run=beta-run",
                 "/compare/curves.svg?run=alpha-run&run=beta-run&metric=val_loss"):
        root = is_svg(client.get(path))
        assert list(root.iter("{http://www.w3.org/2000/svg}polyline")), path  # a curve is drawn


def test_a_run_page_of_an_unknown_run_is_404(shown):
    _, _, _, client = shown
    for path in ("/run/unknown", "/run/unknown/status", "/run/unknown/images?wrong=1",
                 "/run/unknown/curves.svg", "/run/%2E%2E", "/run/%2E%2E/status"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "unknown instance" in messages(response)[0], path
    assert_still_serving(client)


def test_the_status_of_a_run_as_json(shown):
    _, _, _, client = shown
    response = client.get("/run/alpha-run/status")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json == {"status": "finished", "epoch_text": "epoch 6 of 6, best 6", "epochs_done": 6}


# -- comparing runs -------------------------------------------------------------------------

def test_comparing_two_runs_highlights_what_differs(shown):
    _, _, _, client = shown
    response = client.get("/compare?run=alpha-run&run=beta-run")
    assert response.status_code == 200
    page = text_of(response)
    differs = {row[0] for row in table_rows(page, "differs")}
    assert {"learning_rate", "test_acc", "training_start"} <= differs
    assert not differs & {"architecture", "batch_size", "alpha", "size", "test_loss"}
    assert ["architecture", "mobilenet", "mobilenet"] in table_rows(page)
    assert "/compare/curves.svg?run=alpha-run&amp;run=beta-run&amp;metric=val_acc" in page


def test_comparing_a_grid(shown):
    _, _, _, client = shown
    response = client.get("/compare?grid=g1")
    assert response.status_code == 200
    assert "@gamma-run" in text_of(response) and "@delta-run" in text_of(response)
    assert "@alpha-run" not in text_of(response)


@pytest.mark.parametrize("query", ["run=alpha-run", "", "run=alpha-run&run=alpha-run", "grid=nope"])
def test_comparing_fewer_than_two_runs_is_a_readable_400(shown, query):
    _, _, _, client = shown
    response = client.get(f"/compare?{query}")
    assert response.status_code == 400
    assert messages(response) == ["select two or more runs to compare (the boxes on the runs page)"]
    assert_still_serving(client)


def test_comparing_an_unknown_run_is_404(shown):
    _, _, _, client = shown
    response = client.get("/compare?run=alpha-run&run=unknown")
    assert response.status_code == 404
    assert "unknown instance @unknown" in messages(response)[0]


# -- broken runs and runs without predictions -------------------------------------------

def test_a_broken_run_folder_is_listed_as_broken_and_its_page_is_422(own):
    project, _, _ = own
    broken = project / "trainings" / "broken-run"
    broken.mkdir()
    (broken / "data.yaml").write_text("name: [unclosed\n  : : :\n\t- x\n")
    (project / "trainings" / "empty-run").mkdir()  # no data.yaml at all
    client = ui_client(ui_context(project))
    runs = client.get("/")
    assert runs.status_code == 200
    rows = table_rows(text_of(runs))
    for name in ("broken-run", "empty-run"):
        assert "broken" in next(r for r in rows if name in r)
    assert "finished" in next(r for r in rows if "alpha-run" in r)
    response = client.get("/run/broken-run")
    assert response.status_code == 422
    assert "instance @broken-run is broken" in messages(response)[0]
    assert client.get("/run/broken-run/status").status_code == 422
    assert client.get("/run/broken-run/images?wrong=1").status_code in (404, 422)
    assert "Traceback" not in text_of(response)
    assert_still_serving(client)
    assert client.get("/run/alpha-run").status_code == 200


def test_a_run_without_test_predictions_says_so(own):
    project, files, _ = own
    write_run(project / "trainings", "nopred-run", files=files, predictions=False)
    client = ui_client(ui_context(project))
    response = client.get("/run/nopred-run")
    assert response.status_code == 200
    assert any("has no test predictions" in m for m in messages(response))
    assert "/run/nopred-run/images" not in text_of(response)
    for path in ("/run/nopred-run/images?wrong=1", "/run/nopred-run/images?true=0&pred=0",
                 "/run/nopred-run/image?file=cats/cats-000.png"):
        gallery = client.get(path)
        assert gallery.status_code == 404, path
        assert "@nopred-run has no test predictions" in messages(gallery)[0]
    assert_still_serving(client)


def test_test_predictions_that_do_not_match_the_labels_are_a_message(own):
    project, _, _ = own
    (project / "trainings" / "alpha-run" / "checkpoints" / "labels.txt").write_text("one\ntwo\n")
    client = ui_client(ui_context(project))
    response = client.get("/run/alpha-run")
    assert response.status_code == 200
    assert any("y_prob has shape" in m for m in messages(response))
    assert client.get("/run/alpha-run/images?wrong=1").status_code == 404


def test_a_run_page_is_read_again_when_its_metadata_changes(own):
    project, _, _ = own
    client = ui_client(ui_context(project))
    assert client.get("/run/alpha-run/status").json["status"] == "finished"
    data = project / "trainings" / "alpha-run" / "data.yaml"
    data.write_text(data.read_text().replace("status: finished", "status: cancelled") + "\n")
    assert client.get("/run/alpha-run/status").json["status"] == "cancelled"


# -- the data page -------------------------------------------------------------------------

REVIEW_HEADER = "kind,file,label,split,suggested,score,action\n"
REVIEW_ROWS = ("label-issue,samples/cats/cats-000.png,cats,train,dogs,0.9100,keep\n"
               "duplicate,samples/cats/cats-000.png,cats,train,,0.8000,keep\n"
               "duplicate,samples/birds/birds-001.png,birds,test,,0.8000,keep\n"
               "outlier,samples/dogs/dogs-002.png,dogs,train,,0.5000,keep\n")


@pytest.fixture
def review(own):
    """``own`` with a review file of four rows: ``(project, review path, ctx, client)``."""
    project, _, _ = own
    (project / "doctor").mkdir()
    path = project / "doctor" / "review.csv"
    path.write_text(REVIEW_HEADER + REVIEW_ROWS)
    ctx = ui_context(project)
    return project, path, ctx, ui_client(ctx)


def actions(path):
    """``[(kind, file, action)]`` of a review file, read back with the csv module."""
    import csv
    with open(path, newline="") as handle:
        return [(r["kind"], r["file"], r["action"]) for r in csv.DictReader(handle)]


def test_without_a_review_file_the_data_page_names_the_command(own):
    project, _, _ = own
    response = ui_client(ui_context(project)).get("/data")
    assert response.status_code == 200
    assert any("ml doctor --review" in m for m in messages(response))


def test_the_review_file_is_shown_as_cards(review):
    _, _, ctx, client = review
    response = client.get("/data")
    assert response.status_code == 200
    page = text_of(response)
    assert gallery_files(page) == ["samples/cats/cats-000.png", "samples/cats/cats-000.png",
                                   "samples/birds/birds-001.png", "samples/dogs/dogs-002.png"]
    for kind, count in (("label-issue", 1), ("duplicate", 2), ("outlier", 1)):
        assert f"<h2>{kind} <small>({count})</small></h2>" in page
    # A card's choices: keep, remove, and the other classes.
    card = page.split('value="samples/birds/birds-001.png"')[1].split("</form>")[0]
    assert re.findall(r'<option value="([^"]+)"', card) == ["keep", "remove", "relabel:cats", "relabel:dogs"]
    assert f'name="csrf" value="{ctx.guard.csrf}"' in page
    assert "/thumb?root=project&amp;file=samples%2Fcats%2Fcats-000.png" in page
    thumb = client.get("/thumb?root=project&file=samples%2Fcats%2Fcats-000.png")
    assert thumb.headers["Content-Type"] == "image/jpeg"
    only = text_of(client.get("/data?kind=outlier"))
    assert gallery_files(only) == ["samples/dogs/dogs-002.png"]


def test_saving_an_action_rewrites_every_row_of_that_file(review):
    _, path, ctx, client = review
    response = client.post("/data/review", data={"csrf": ctx.guard.csrf, "file": "samples/cats/cats-000.png",
                                                 "action": "relabel:dogs"})
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/data?note=")
    assert actions(path) == [("label-issue", "samples/cats/cats-000.png", "relabel:dogs"),
                             ("duplicate", "samples/cats/cats-000.png", "relabel:dogs"),
                             ("duplicate", "samples/birds/birds-001.png", "keep"),
                             ("outlier", "samples/dogs/dogs-002.png", "keep")]
    # The other cells are kept as they were.
    assert path.read_text().splitlines()[1] == "label-issue,samples/cats/cats-000.png,cats,train,dogs,0.9100,relabel:dogs"
    page = text_of(client.get("/data"))
    card = page.split('value="samples/cats/cats-000.png"')[1].split("</form>")[0]
    assert '<option value="relabel:dogs" selected>' in card


@pytest.mark.parametrize("file, action, text", [
    ("samples/cats/cats-000.png", "relabel:horses", "unknown label 'horses'"),
    ("samples/cats/cats-000.png", "burn", "unknown action 'burn'"),
    ("samples/cats/cats-000.png", "", "the action is empty"),
    ("samples/cats/cats-999.png", "remove", "is not in review.csv"),
])
def test_a_bad_action_is_a_readable_400_and_changes_nothing(review, file, action, text):
    _, path, ctx, client = review
    response = client.post("/data/review", data={"csrf": ctx.guard.csrf, "file": file, "action": action})
    assert response.status_code == 400
    assert text in messages(response)[0]
    assert path.read_text() == REVIEW_HEADER + REVIEW_ROWS
    assert_still_serving(client)


def test_apply_needs_confirming(review):
    project, _, ctx, client = review
    client.post("/data/review", data={"csrf": ctx.guard.csrf, "file": "samples/dogs/dogs-002.png",
                                      "action": "remove"})
    for form in ({}, {"confirm": "no"}, {"confirm": ""}):
        response = client.post("/data/apply", data={"csrf": ctx.guard.csrf, **form})
        assert response.status_code == 400
        assert messages(response) == ["tick the box to confirm, then apply"]
    assert (project / "samples" / "dogs" / "dogs-002.png").is_file()
    assert not (project / "removed").exists()


def test_apply_moves_the_files_and_undo_puts_them_back_byte_identical(review):
    project, path, ctx, client = review
    samples = project / "samples"
    before = {p.relative_to(project).as_posix(): p.read_bytes() for p in samples.rglob("*.png")}
    for file, action in (("samples/cats/cats-000.png", "relabel:dogs"), ("samples/dogs/dogs-002.png", "remove")):
        assert client.post("/data/review", data={"csrf": ctx.guard.csrf, "file": file,
                                                 "action": action}).status_code == 303
    response = client.post("/data/apply", data={"csrf": ctx.guard.csrf, "confirm": "yes"})
    assert response.status_code == 303
    note = client.get(response.headers["Location"])
    assert "Moved 2 file(s): 1 relabelled, 1 into removed/." in messages(note)
    # As ml doctor --apply: a relabel into the other class folder, a removal into removed/.
    assert not (samples / "cats" / "cats-000.png").exists()
    assert (samples / "dogs" / "cats-000.png").read_bytes() == before["samples/cats/cats-000.png"]
    assert not (samples / "dogs" / "dogs-002.png").exists()
    assert (project / "removed" / "dogs" / "dogs-002.png").read_bytes() == before["samples/dogs/dogs-002.png"]
    assert (samples / "birds" / "birds-001.png").is_file()  # keep
    undone = client.post("/data/undo", data={"csrf": ctx.guard.csrf})
    assert undone.status_code == 303
    assert "Put back 2 file(s)." in messages(client.get(undone.headers["Location"]))
    after = {p.relative_to(project).as_posix(): p.read_bytes() for p in samples.rglob("*.png")}
    assert after == before
    # Nothing left to undo: a readable 400.
    again = client.post("/data/undo", data={"csrf": ctx.guard.csrf})
    assert again.status_code == 400
    assert "nothing to undo" in messages(again)[0]
    assert_still_serving(client)


def test_apply_of_a_review_with_a_bad_row_moves_nothing(review):
    project, path, ctx, client = review
    path.write_text(REVIEW_HEADER + "outlier,samples/dogs/dogs-002.png,cats,train,,0.5,remove\n")
    response = client.post("/data/apply", data={"csrf": ctx.guard.csrf, "confirm": "yes"})
    assert response.status_code == 400
    assert "review.csv row 2" in messages(response)[0]
    assert (project / "samples" / "dogs" / "dogs-002.png").is_file()


def test_a_review_file_that_cannot_be_read_is_a_message(review):
    _, path, _, client = review
    path.write_bytes(b"\xff\xfe not utf-8 \xff")
    response = client.get("/data")
    assert response.status_code == 422
    assert "is not UTF-8 text" in messages(response)[0]
    assert_still_serving(client)


# -- "Try it": the uploads -------------------------------------------------------------------

class FakePredictor(Predictor):
    """A predictor that decodes with Pillow and always answers the same probabilities."""

    def __init__(self, name, labels):
        super().__init__(name, labels, size=96)
        self.calls = 0

    def predict_images(self, items, top_k=5, **options):
        from PIL import Image, UnidentifiedImageError
        self.calls += 1
        results = []
        for filename, data in items:
            try:
                Image.open(io.BytesIO(data)).load()
            except (UnidentifiedImageError, OSError) as err:
                results.append({"filename": filename, "error": f"cannot decode ({type(err).__name__})"})
                continue
            probs = [0.1 * (i + 1) for i in range(len(self.labels))]
            total = sum(probs)
            results.append({"filename": filename, "prediction": self.top([p / total for p in probs], top_k)})
        return results


@pytest.fixture
def uploads(own):
    """``(ctx, client, loaded)``: 1 MB uploads, the fake predictor, the runs it was loaded for."""
    project, _, _ = own
    loaded = []

    def load_predictor(instance):
        loaded.append(instance.name)
        return FakePredictor(instance.name, instance.labels())
    ctx = ui_context(project, load_predictor=load_predictor, max_upload=MB)
    return ctx, ui_client(ctx), loaded


def upload(client, ctx, files, name="alpha-run", csrf=True, headers=None):
    body, content_type = encode_multipart(files=[("files", n, d) for n, d in files])
    sent = {**({"X-CSRF-Token": ctx.guard.csrf} if csrf else {}), **(headers or {})}
    return client.post(f"/run/{name}/predict", data=body, content_type=content_type, headers=sent)


def test_an_image_upload_is_predicted_by_the_runs_predictor(uploads):
    ctx, client, loaded = uploads
    response = upload(client, ctx, [("a.png", png_bytes(5))])
    assert response.status_code == 200, response.data
    assert response.json[0]["filename"] == "a.png"
    assert [p["label"] for p in response.json[0]["prediction"]] == ["dogs", "cats", "birds"]
    upload(client, ctx, [("b.png", png_bytes(6))])
    assert loaded == ["alpha-run"]  # loaded once, kept


def test_an_upload_that_is_not_an_image_is_a_json_400(uploads):
    ctx, client, _ = uploads
    response = upload(client, ctx, [("notes.txt", b"just some text, not an image\n")])
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert "not a valid image" in response.json["error"]
    assert response.json["error"].startswith("notes.txt: ")
    assert_still_serving(client)


def test_an_upload_over_the_limit_is_413(uploads):
    ctx, client, _ = uploads
    response = upload(client, ctx, [("big.png", png_bytes(1) + b"\0" * (2 * MB))])
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/json"
    assert "larger than the limit of 1 MB" in response.json["error"]
    assert_still_serving(client)
    assert upload(client, ctx, [("a.png", png_bytes(5))]).status_code == 200


def test_a_50_mb_upload_is_413_at_the_default_limit(own):
    project, _, _ = own
    ctx = ui_context(project, load_predictor=lambda instance: FakePredictor(instance.name, instance.labels()))
    client = ui_client(ctx)
    response = upload(client, ctx, [("huge.jpg", b"\xff" * (50 * MB))])
    assert response.status_code == 413
    assert "larger than the limit of 20 MB" in response.json["error"]
    assert_still_serving(client)


def test_an_upload_over_the_limit_is_413_before_the_model_is_loaded(own):
    """The size is known from the request alone: a run whose model cannot load (or
    takes seconds and a backbone's memory to) must not decide the answer to an upload
    it would never see."""
    project, _, _ = own
    loaded = []

    def load_predictor(instance):
        loaded.append(instance.name)
        raise VergeMLError(f"instance @{instance.name} has no model file")
    ctx = ui_context(project, load_predictor=load_predictor, max_upload=MB)
    client = ui_client(ctx)
    response = upload(client, ctx, [("big.png", b"\0" * (2 * MB))])
    assert response.status_code == 413, response.json
    assert loaded == []


def test_an_upload_without_the_csrf_header_is_403(uploads):
    ctx, client, loaded = uploads
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        response = upload(client, ctx, [("a.png", png_bytes(5))], csrf=False, headers=headers)
        assert response.status_code == 403
        assert "reload the page" in response.json["error"]
    # A csrf field in the multipart body is not read: the page's script sends the header.
    body, content_type = encode_multipart(fields=[("csrf", ctx.guard.csrf)], files=[("files", "a.png", png_bytes(5))])
    assert client.post("/run/alpha-run/predict", data=body, content_type=content_type).status_code == 403
    assert loaded == []
    assert_still_serving(client)


def test_an_upload_to_an_unknown_run_is_a_json_404(uploads):
    ctx, client, loaded = uploads
    response = upload(client, ctx, [("a.png", png_bytes(5))], name="unknown")
    assert response.status_code == 404
    assert "unknown instance @unknown" in response.json["error"]
    assert loaded == []


def test_an_upload_without_files_is_a_json_400(uploads):
    ctx, client, _ = uploads
    response = upload(client, ctx, [])
    assert response.status_code == 400
    assert "no files" in response.json["error"]
    wrong_type = client.post("/run/alpha-run/predict", data="{}", content_type="application/json",
                             headers={"X-CSRF-Token": ctx.guard.csrf})
    assert wrong_type.status_code == 415
    assert_still_serving(client)


def test_the_try_page_offers_the_finished_runs(uploads):
    _, client, loaded = uploads
    response = client.get("/try")
    assert response.status_code == 200
    page = text_of(response)
    assert '<option value="alpha-run" selected>@alpha-run (test_acc 0.910)</option>' in page
    assert 'data-max-mb="1"' in page
    assert loaded == []  # the page itself loads no model
