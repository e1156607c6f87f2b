"""``ml ui``'s guard (vergeml/services/ui/guard.py): only the project's images are served,
the page answers only its own Host on loopback, the URL token off loopback, and the
CSRF token of every POST. Through the WSGI app with werkzeug's test client where
the rule shows on the page (no server).
"""
import io
import os

import pytest

from tests.ui_helpers import csrf_of, png_bytes, ui_client, ui_context
from vergeml.services.ui.guard import TOKEN_COOKIE, Guard, resolve_image

TOKEN = "the-printed-token-0123456789"


@pytest.fixture
def tree(tmp_path):
    """``outside/`` (a secret image and text) beside ``project/`` (samples, a review file)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(png_bytes(1))
    (outside / "secret.txt").write_text("secret")
    project = tmp_path / "project"
    (project / "samples" / "cats").mkdir(parents=True)
    (project / "vergeml.yaml").write_text("model: imagenet\n")
    (project / "samples" / "cats" / "a.png").write_bytes(png_bytes(2))
    (project / "samples" / "notes.txt").write_text("not an image")
    (project / "secret.jpg").write_bytes(png_bytes(3))  # in the project, outside samples/
    return project, outside


# -- resolve_image ---------------------------------------------------------------------

def test_an_image_under_the_root_resolves_to_its_real_path(tree):
    project, _ = tree
    samples = project / "samples"
    assert resolve_image(samples, "cats/a.png") == os.path.realpath(samples / "cats" / "a.png")
    assert resolve_image(project, "samples/cats/a.png") == os.path.realpath(samples / "cats" / "a.png")
    assert resolve_image(samples, "cats/missing.png") is None


@pytest.mark.parametrize("relpath", [
    "../secret.jpg",                 # up and out
    "cats/../../secret.jpg",
    "../outside/secret.png",
    "../../outside/secret.png",
    "%2e%2e/secret.jpg",             # encoded dots are literal text here: never decoded again
    "%2e%2e%2fsecret.jpg",
    "..%2fsecret.jpg",
    "/etc/passwd",                   # absolute
    "/cats/a.png",
    "cats/a.png\0.png",              # NUL
    "cats\\a.png",                   # backslash
    "..\\secret.jpg",
    "cats//a.png",                   # an empty part
    "notes.txt",                     # not an image
    "",
])
def test_a_path_that_leaves_the_root_or_is_no_image_is_refused(tree, relpath):
    project, _ = tree
    assert resolve_image(project / "samples", relpath) is None


def test_an_absolute_path_is_refused_even_to_an_image_inside(tree):
    project, _ = tree
    inside = str(project / "samples" / "cats" / "a.png")
    assert resolve_image(project / "samples", inside) is None


def test_a_symlink_to_a_file_outside_is_refused(tree):
    project, outside = tree
    link = project / "samples" / "cats" / "link.png"
    link.symlink_to(outside / "secret.png")
    assert link.is_file()  # the link itself works: only the guard stands in the way
    assert resolve_image(project / "samples", "cats/link.png") is None
    assert resolve_image(project, "samples/cats/link.png") is None


def test_a_symlinked_folder_pointing_outside_is_refused(tree):
    project, outside = tree
    (project / "samples" / "elsewhere").symlink_to(outside, target_is_directory=True)
    assert (project / "samples" / "elsewhere" / "secret.png").is_file()
    assert resolve_image(project / "samples", "elsewhere/secret.png") is None


def test_a_symlink_inside_pointing_inside_is_allowed(tree):
    project, _ = tree
    target = project / "samples" / "cats" / "a.png"
    (project / "samples" / "alias.png").symlink_to(target)
    (project / "samples" / "kittens").symlink_to(project / "samples" / "cats", target_is_directory=True)
    assert resolve_image(project / "samples", "alias.png") == os.path.realpath(target)
    assert resolve_image(project / "samples", "kittens/a.png") == os.path.realpath(target)


def test_an_image_named_symlink_to_a_text_file_inside_is_refused(tree):
    project, _ = tree
    (project / "samples" / "notes.png").symlink_to(project / "samples" / "notes.txt")
    assert resolve_image(project / "samples", "notes.png") is None


def test_a_symlinked_samples_folder_is_its_own_root(tree):
    """A project whose samples folder is a symlink (as the e2e photo projects have)
    serves its images: the root is resolved too."""
    project, outside = tree
    (outside / "photos" / "ants").mkdir(parents=True)
    (outside / "photos" / "ants" / "x.png").write_bytes(png_bytes(4))
    linked = project / "linked-samples"
    linked.symlink_to(outside / "photos", target_is_directory=True)
    assert resolve_image(linked, "ants/x.png") == os.path.realpath(outside / "photos" / "ants" / "x.png")
    assert resolve_image(linked, "../secret.png") is None


# -- the image routes ------------------------------------------------------------------

@pytest.fixture
def client(tree):
    project, _ = tree
    return ui_client(ui_context(project))


def test_the_image_route_serves_a_project_image(client, tree):
    project, _ = tree
    response = client.get("/image?root=samples&file=cats%2Fa.png")
    assert response.status_code == 200
    assert response.data == (project / "samples" / "cats" / "a.png").read_bytes()
    assert response.headers["Content-Type"] == "image/png"
    assert client.get("/image?root=project&file=samples/cats/a.png").status_code == 200


@pytest.mark.parametrize("query", [
    "root=samples&file=../vergeml.yaml",
    "root=samples&file=../secret.jpg",
    "root=samples&file=..%2Fsecret.jpg",                  # percent-encoded in the query
    "root=samples&file=%2E%2E%2Fsecret.jpg",
    "root=samples&file=%252e%252e%252fsecret.jpg",        # encoded twice: decoded once only
    "root=samples&file=..%5Csecret.jpg",                  # a backslash
    "root=samples&file=%2Fetc%2Fpasswd",
    "root=samples&file=cats%2Fa.png%00.png",              # NUL
    "root=project&file=vergeml.yaml",                     # not an image
    "root=project&file=../outside/secret.png",
    "root=samples&file=notes.txt",
    "root=etc&file=x.jpg",                                # no such root
    "root=%2F&file=etc%2Fpasswd",
    "root=samples",                                       # no file
])
def test_the_image_route_answers_404_to_anything_but_a_project_image(client, query):
    response = client.get(f"/image?{query}")
    assert response.status_code == 404, response.data[:300]
    assert response.headers["Content-Type"].startswith("text/html")
    text = response.get_data(as_text=True)
    assert '<p class="message error" role="alert">no ' in text  # a readable page, nothing served


def test_symlinks_leading_out_are_404_on_the_image_route(client, tree):
    project, outside = tree
    (project / "samples" / "cats" / "link.png").symlink_to(outside / "secret.png")
    (project / "samples" / "elsewhere").symlink_to(outside, target_is_directory=True)
    for query in ("root=samples&file=cats/link.png", "root=samples&file=elsewhere%2Fsecret.png",
                  "root=project&file=samples/elsewhere/secret.png"):
        response = client.get(f"/image?{query}")
        assert response.status_code == 404, query
        assert response.data != (outside / "secret.png").read_bytes()


def test_a_thumbnail_of_a_missing_or_refused_file_is_a_placeholder(client, tree):
    project, outside = tree
    (project / "samples" / "cats" / "link.png").symlink_to(outside / "secret.png")
    for query in ("root=samples&file=cats/missing.png", "root=samples&file=../secret.jpg",
                  "root=samples&file=cats/link.png", "root=etc&file=x.jpg"):
        response = client.get(f"/thumb?{query}")
        assert response.status_code == 200, query
        assert response.headers["X-Missing"] == "1"
        assert response.headers["Content-Type"] == "image/svg+xml"
        assert b"no image" in response.data


def test_a_thumbnail_of_a_project_image_is_a_jpeg(client):
    response = client.get("/thumb?root=samples&file=cats/a.png")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert "X-Missing" not in response.headers
    assert response.data[:3] == b"\xff\xd8\xff"


def test_a_heatmap_of_a_path_outside_is_refused_before_any_model_loads(tree):
    project, _ = tree

    def load_predictor(instance):
        raise AssertionError("a refused path must not load a model")
    client = ui_client(ui_context(project, load_predictor=load_predictor))
    response = client.get("/run/any/heatmap.png?root=samples&file=../secret.jpg")
    assert response.status_code == 404


# -- Host header on loopback -----------------------------------------------------------

@pytest.mark.parametrize("host, status", [
    ("evil.example:2205", 403),       # DNS rebinding: a foreign name resolving to 127.0.0.1
    ("evil.example", 403),
    ("127.0.0.1.evil.example:2205", 403),
    ("localhost.evil.example", 403),
    ("127.0.0.1:2205", 200),
    ("[::1]:2205", 200),
    ("localhost", 200),
    ("LOCALHOST:2205", 200),
])
def test_on_loopback_only_a_loopback_host_header_is_answered(tree, host, status):
    project, _ = tree
    client = ui_client(ui_context(project))
    response = client.get("/", headers={"Host": host})
    assert response.status_code == status, host
    if status == 403:
        assert "Host header" in response.get_data(as_text=True)


def test_a_foreign_host_is_refused_on_every_route(tree):
    project, _ = tree
    client = ui_client(ui_context(project))
    for path in ("/image?root=samples&file=cats/a.png", "/thumb?root=samples&file=cats/a.png",
                 "/data", "/try", "/static/ui.js"):
        assert client.get(path, headers={"Host": "evil.example:2205"}).status_code == 403, path


def test_a_refused_page_does_not_reveal_the_csrf_token(tree):
    """A page refused for its Host (DNS rebinding: a foreign site's script reads it as its
    own origin) must not carry the CSRF token: with it that site could post a form to
    http://127.0.0.1:2205/data/apply, whose Host is genuine. The same for a request
    without the URL token off loopback."""
    project, _ = tree
    ctx = ui_context(project)
    refused = ui_client(ctx).get("/", headers={"Host": "evil.example:2205"})
    assert refused.status_code == 403
    assert ctx.guard.csrf not in refused.get_data(as_text=True)
    open_ctx = ui_context(project, host="0.0.0.0", token=TOKEN)
    refused = ui_client(open_ctx).get("/")
    assert refused.status_code == 403
    assert open_ctx.guard.csrf not in refused.get_data(as_text=True)


@pytest.mark.parametrize("bound", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_the_url_printed_for_a_loopback_address_is_answered(tree, bound):
    """Whatever loopback address ``--host`` names, the page opens at the URL ml ui prints
    for it (``http://<host>:<port>/``, the token added when the guard asks for one)."""
    from vergeml.services import http_url
    project, _ = tree
    ctx = ui_context(project)
    ctx.guard = Guard.for_host(bound)
    host_header = http_url(bound, 2205).split("//", 1)[1]
    query = f"?token={ctx.guard.token}" if ctx.guard.token else ""
    response = ui_client(ctx).get(f"/{query}", headers={"Host": host_header})
    assert response.status_code == 200, (bound, response.get_data(as_text=True)[-400:])


# -- the URL token off loopback --------------------------------------------------------

def test_bound_to_any_other_address_the_guard_has_a_token():
    assert Guard.for_host("127.0.0.1").token is None
    token = Guard.for_host("0.0.0.0").token
    assert token and len(token) >= 16
    assert Guard.for_host("0.0.0.0").token != token
    assert Guard.for_host("192.168.1.5").token


def test_off_loopback_every_request_needs_the_token(tree):
    project, _ = tree
    ctx = ui_context(project, host="0.0.0.0", token=TOKEN)
    client = ui_client(ctx)
    # Any Host is fine off loopback (the address is the network's): the token is the check.
    for headers in ({}, {"Host": "192.168.1.5:2205"}):
        refused = client.get("/", headers=headers)
        assert refused.status_code == 403
        assert "token" in refused.get_data(as_text=True)
        assert "Set-Cookie" not in refused.headers
    assert client.get("/image?root=samples&file=cats/a.png").status_code == 403
    assert client.get(f"/?token={TOKEN}x").status_code == 403
    assert client.get("/?token=").status_code == 403
    assert client.get(f"/?token={TOKEN[:-1]}").status_code == 403


def test_the_right_token_sets_a_strict_http_only_cookie_that_then_suffices(tree):
    project, _ = tree
    ctx = ui_context(project, host="0.0.0.0", token=TOKEN)
    client = ui_client(ctx)
    first = client.get(f"/?token={TOKEN}")
    assert first.status_code == 200
    cookie = first.headers["Set-Cookie"]
    assert cookie.startswith(f"{TOKEN_COOKIE}={TOKEN};")
    attributes = [part.strip() for part in cookie.split(";")]
    assert "HttpOnly" in attributes and "SameSite=Strict" in attributes and "Path=/" in attributes
    # The cookie alone, without the token in the URL.
    fresh = ui_client(ctx)
    fresh.set_cookie(TOKEN_COOKIE, TOKEN)
    assert fresh.get("/").status_code == 200
    assert fresh.get("/image?root=samples&file=cats/a.png").status_code == 200
    # The test client keeps the cookie it was sent, like a browser.
    assert client.get("/data").status_code == 200
    wrong = ui_client(ctx)
    wrong.set_cookie(TOKEN_COOKIE, "not-the-token")
    assert wrong.get("/").status_code == 403


def test_off_loopback_a_post_needs_the_token_and_the_csrf_token(tree):
    project, _ = tree
    ctx = ui_context(project, host="0.0.0.0", token=TOKEN)
    client = ui_client(ctx)
    assert client.post("/data/apply", data={"csrf": ctx.guard.csrf}).status_code == 403  # no token
    assert client.post(f"/data/apply?token={TOKEN}", data={"confirm": "yes"}).status_code == 403
    # Both: the guard lets it through (no review file: the page's own 400).
    assert client.post(f"/data/apply?token={TOKEN}", data={"csrf": ctx.guard.csrf}).status_code == 400


# -- CSRF ------------------------------------------------------------------------------

REVIEW = ("kind,file,label,split,suggested,score,action\n"
          "outlier,samples/cats/a.png,cats,train,,0.5000,keep\n")


@pytest.fixture
def reviewed(tree):
    project, _ = tree
    (project / "samples" / "dogs").mkdir()
    (project / "doctor").mkdir()
    (project / "doctor" / "review.csv").write_text(REVIEW)
    ctx = ui_context(project)
    return project, ctx, ui_client(ctx)


@pytest.mark.parametrize("form, headers", [
    ({}, {}),
    ({"csrf": ""}, {}),
    ({"csrf": "forged"}, {}),
    ({}, {"X-CSRF-Token": "forged"}),
    ({}, {"X-CSRF-Token": ""}),
])
def test_a_post_without_the_right_csrf_token_is_refused(reviewed, form, headers):
    project, _, client = reviewed
    for path in ("/data/review", "/data/apply", "/data/undo"):
        response = client.post(path, data={"file": "samples/cats/a.png", "action": "remove",
                                           "confirm": "yes", **form}, headers=headers)
        assert response.status_code == 403, path
        assert "reload the page" in response.get_data(as_text=True)
    assert (project / "doctor" / "review.csv").read_text() == REVIEW
    assert (project / "samples" / "cats" / "a.png").is_file()


def test_the_csrf_token_of_a_page_is_the_one_a_post_needs(reviewed):
    project, ctx, client = reviewed
    token = csrf_of(client.get("/data").get_data(as_text=True))
    assert token == ctx.guard.csrf
    assert f'name="csrf" value="{token}"' in client.get("/data").get_data(as_text=True)


def test_the_right_csrf_token_as_a_form_field_is_accepted(reviewed):
    project, ctx, client = reviewed
    response = client.post("/data/review", data={"csrf": ctx.guard.csrf, "file": "samples/cats/a.png",
                                                 "action": "remove"})
    assert response.status_code == 303
    assert (project / "doctor" / "review.csv").read_text().splitlines()[1].endswith(",remove")


def test_the_right_csrf_token_as_a_header_is_accepted(reviewed):
    project, ctx, client = reviewed
    response = client.post("/data/review", data={"file": "samples/cats/a.png", "action": "relabel:dogs"},
                           headers={"X-CSRF-Token": ctx.guard.csrf, "Accept": "application/json"})
    assert response.status_code == 200
    assert response.json == {"file": "samples/cats/a.png", "action": "relabel:dogs", "rows": 1}
    assert (project / "doctor" / "review.csv").read_text().splitlines()[1].endswith(",relabel:dogs")


def test_each_server_has_its_own_csrf_token(tree):
    project, _ = tree
    assert ui_context(project).guard.csrf != ui_context(project).guard.csrf
    assert len(ui_context(project).guard.csrf) >= 24


def test_a_get_needs_no_csrf_token(reviewed):
    _, _, client = reviewed
    assert client.get("/data").status_code == 200


def test_an_upload_without_the_csrf_header_is_refused_as_json(reviewed):
    _, _, client = reviewed
    response = client.post("/run/any/predict", data={"files": (io.BytesIO(b"x"), "a.png")})
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/json"
    assert "error" in response.json
