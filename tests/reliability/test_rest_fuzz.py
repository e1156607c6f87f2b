"""Bad input for ``ml @name run:rest``: the live server (a real trained digits
instance, waitress on 127.0.0.1) fuzzed by schemathesis from its own
``/openapi.json``, then corrupt uploads, bodies far over the limit, and path
traversal in file names and URLs. Every case must get the right status, and the
server must stay healthy and never log a traceback (a hidden 500).
"""
import collections
import json
import os
import random
import socket
import struct
import threading
import zlib
from io import BytesIO

import pytest
from PIL import Image

from tests.reliability.rest_helpers import digit_images, serving, top_labels

MB = 1024 * 1024
# The fast run replays the same cases (VERGEML_FUZZ_SEED overrides, as for the
# command-line fuzz); the slow run explores from a fresh seed unless it is set.
# The seed must draw a valid image alone in the 30 positive cases (asserted below): 20261202
# no longer did once the spec gained the boolean ``tta`` field.
FIXED_SEED = int(os.environ.get("VERGEML_FUZZ_SEED", "20261205"))
# The spec's operations; a new route must be added here (and so get fuzzed).
OPERATIONS = {"GET /", "GET /health", "GET /openapi.json", "GET /predict", "POST /predict",
              "POST /explain"}


@pytest.fixture(scope="module")
def server(trained_digits, ml_env, tmp_path_factory):
    """One server for the module (default limits: 20 MB bodies, 4 threads)."""
    project, name, _ = trained_digits
    with serving(project, name, ml_env, folder=tmp_path_factory.mktemp("rest-fuzz")) as srv:
        yield srv


# -- schemathesis ---------------------------------------------------------------


def fuzz_operations(server, max_examples, run_seed):
    """Run schemathesis on every operation of the live ``/openapi.json``.

    Every operation gets positive cases (data valid per the spec, checked for no
    5xx, a declared status and content type, and a body matching the response
    schema); operations with inputs also get negative cases (data violating the
    spec, which must be refused with a declared 4xx). The spec is taken from the
    server, loaded with ``from_dict`` (``from_url`` leaves out the spec's own route)
    and driven with ``operation.as_strategy()`` and hypothesis (schemathesis'
    pytest plugin does not run under pytest 9).

    Args:
        server: the :class:`RestServer`.
        max_examples: hypothesis examples per operation and mode.
        run_seed: hypothesis' seed (printed with every failure: it replays the run).

    Returns:
        ``(counts, failures)``: ``{(mode, operation): Counter of statuses}`` and a
        list of failure texts (each naming the seed that replays it).
    """
    import schemathesis
    status, _, body = server.request("GET", "/openapi.json")
    assert status == 200
    schema = schemathesis.openapi.from_dict(json.loads(body))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} == OPERATIONS
    counts, failures = {}, []
    for mode in schemathesis.GenerationMode:
        for operation in operations:
            if mode is schemathesis.GenerationMode.NEGATIVE and not _has_inputs(operation):
                continue  # nothing to violate: a GET without parameters
            counter = counts.setdefault((mode.value, operation.label), collections.Counter())
            failure = _fuzz_one(operation, mode, server.url, counter, max_examples, run_seed)
            if failure:
                failures.append(f"{mode.value} {operation.label}: {failure}")
    return counts, failures


def _has_inputs(operation):
    """Whether an operation takes a body or parameters (so has negative cases)."""
    return bool(list(operation.body) or list(operation.iter_parameters()))


def _fuzz_one(operation, mode, base_url, counter, max_examples, run_seed):
    """Hypothesis over one operation; returns the failure text (naming the seed) or ''."""
    from hypothesis import HealthCheck, given, seed, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi import checks
    conformance = [not_a_server_error, checks.status_code_conformance, checks.content_type_conformance]
    extra = checks.response_schema_conformance if mode.value == "positive" else checks.negative_data_rejection

    @seed(run_seed)
    @settings(max_examples=max_examples, deadline=None, database=None, print_blob=True,
              suppress_health_check=list(HealthCheck))
    @given(operation.as_strategy(generation_mode=mode))
    def run(case):
        response = case.call(base_url=base_url, timeout=60)
        counter[response.status_code] += 1
        case.validate_response(response, checks=[*conformance, extra]
                               if not _unsendable(case, mode) else conformance)

    try:
        run()
    except Exception as err:  # noqa: BLE001 - any failure is reported with its replay seed
        notes = "\n".join(getattr(err, "__notes__", ()))
        return (f"VERGEML_FUZZ_SEED={run_seed} replays it: {type(err).__name__}: {err}"[:4000]
                + f"\n{notes}")
    return ""


# Fields typed as free text: any value multipart sends for them is valid text.
TEXT_FIELDS = ("label",)


def _unsendable(case, mode):
    """A negative case whose violation multipart cannot carry: an empty list for an
    optional field is sent as no part at all, which is valid (the default applies); a
    number for a text field (``/explain``'s ``label``) is sent as its digits, valid text."""
    body = case.body if mode.value == "negative" else None
    return isinstance(body, dict) and any(
        v == [] or (k in TEXT_FIELDS and not isinstance(v, (str, list, dict)))
        for k, v in body.items() if k != "files")


def _report(counts, run_seed):
    total = sum(sum(c.values()) for c in counts.values())
    lines = [f"  {mode:8} {label:18} {sum(c.values()):4} cases  {dict(sorted(c.items()))}"
             for (mode, label), c in counts.items()]
    print(f"\nschemathesis: {total} cases (seed {run_seed})\n" + "\n".join(lines))
    return total


def test_schemathesis_every_route(server):
    counts, failures = fuzz_operations(server, 30, FIXED_SEED)
    total = _report(counts, FIXED_SEED)
    assert not failures, "\n\n".join(failures)
    # Real image samples must reach the model (200) and garbage must be refused (400).
    assert {200, 400} <= set(counts[("positive", "POST /predict")])
    assert set(counts[("negative", "POST /predict")]) <= {400, 413, 415}
    assert total >= 60
    assert server.healthy()


@pytest.mark.slow
def test_schemathesis_many_examples(server):
    run_seed = int(os.environ.get("VERGEML_FUZZ_SEED") or random.SystemRandom().getrandbits(32))
    counts, failures = fuzz_operations(server, 500, run_seed)
    total = _report(counts, run_seed)
    assert not failures, "\n\n".join(failures)
    assert total >= 1000
    assert server.healthy()


# -- corrupt uploads ------------------------------------------------------------


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width=20_000, height=20_000):
    """A valid 1-bit PNG of ``width x height`` black pixels: ~50 KB on disk,
    400 million pixels decoded (a decompression bomb)."""
    deflate, row = zlib.compressobj(9), b"\0" * (1 + (width + 7) // 8)
    data = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data)
            + _png_chunk(b"IEND", b""))


def encoded(image, fmt, **params):
    buffer = BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _bad_crc(png):
    """The PNG with one byte of its first IDAT data flipped (the CRC no longer matches)."""
    at = png.index(b"IDAT") + 6
    return png[:at] + bytes([png[at] ^ 0xFF]) + png[at + 1:]


def corrupt_uploads():
    """``(filename, bytes, words the error must contain)`` of files that are no images."""
    digit = digit_images(1)[0][1]
    jpeg = encoded(Image.new("RGB", (64, 64), (200, 30, 30)), "JPEG")
    return [
        ("empty.png", b"", "empty"),
        ("notes.jpg", b"this is text, named like a JPEG\n" * 20, "not an image"),
        ("page.png", b"<html><body><script>alert(1)</script></body></html>", "not an image"),
        ("half.png", digit[: len(digit) // 2], "png"),
        ("cut.jpg", jpeg[: len(jpeg) // 2], "truncated"),
        ("crc.png", _bad_crc(digit), "png"),
        ("header-only.png", digit[:33], "png"),
        ("zeros.jpg", bytes(4096), "not an image"),
        ("random.bin", bytes(range(256)) * 64, "not an image"),
        ("bomb.png", bomb_png(), "decompression bomb"),
        ("svg.png", b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>', "not an image"),
    ]


def odd_but_valid_uploads():
    """``(filename, bytes)`` of real images in unusual modes and formats."""
    rgba = Image.new("RGBA", (40, 30), (10, 200, 10, 100))
    return [
        ("rgba.png", encoded(rgba, "PNG")),
        ("grey16.png", encoded(Image.new("I;16", (20, 20), 40000), "PNG")),
        ("palette.gif", encoded(rgba.convert("P"), "GIF")),
        ("cmyk.jpg", encoded(Image.new("CMYK", (32, 32), (0, 100, 200, 0)), "JPEG")),
        ("one-pixel.png", encoded(Image.new("L", (1, 1), 255), "PNG")),
        ("strip.png", encoded(Image.new("RGB", (1, 3000), (0, 0, 0)), "PNG")),
        ("photo.webp", encoded(Image.new("RGB", (50, 50), (90, 90, 200)), "WEBP")),
        ("scan.tiff", encoded(Image.new("RGB", (30, 30), (5, 5, 5)), "TIFF")),
        ("icon.bmp", encoded(Image.new("RGB", (16, 16), (255, 255, 0)), "BMP")),
        ("trailing.png", digit_images(1)[0][1] + b"garbage after IEND"),
        ("really-a-png.txt", digit_images(1)[0][1]),
    ]


@pytest.mark.parametrize("filename, data, words", corrupt_uploads(),
                         ids=[c[0] for c in corrupt_uploads()])
def test_corrupt_upload_is_400_naming_the_file(server, filename, data, words):
    good = digit_images(1)
    status, result = server.predict_json([(good[0][0], good[0][1]), (filename, data)])
    assert status == 400, result
    assert result["file"] == filename and result["error"].startswith(f"{filename}: ")
    assert words in result["error"].lower()
    assert "Traceback" not in result["error"]


def test_odd_but_valid_images_are_classified(server):
    uploads = odd_but_valid_uploads()
    status, result = server.predict_json(uploads, fields=[("labels", "10")])
    assert status == 200, result
    assert [r["filename"] for r in result] == [name for name, _ in uploads]
    for entry in result:  # all ten digits: a whole distribution
        assert sorted(p["label"] for p in entry["prediction"]) == [str(d) for d in range(10)]
        assert abs(sum(p["probability"] for p in entry["prediction"]) - 1) < 1e-3


def test_real_digits_are_still_right_after_bad_input(server):
    digits = digit_images(30)
    status, result = server.predict_json([(n, d) for n, d, _ in digits])
    assert status == 200
    right = sum(p == label for p, (_, _, label) in zip(top_labels(result), digits))
    assert right >= 25, (right, top_labels(result))


# Found by schemathesis' negative cases: an empty ``resize`` was taken as the
# default although the spec allows only its choices. Fields are now as strict as
# the spec; a field left out takes its default.
BAD_FIELDS = [("labels", ""), ("labels", " 3"), ("labels", "+3"), ("labels", "3_0"), ("labels", "٣"),
              ("labels", "0"), ("labels", "-1"), ("labels", "2.0"), ("labels", "1e1"),
              ("resize", ""), ("resize", "Fill"), ("resize", "fill "), ("resize", "stretch")]


@pytest.mark.parametrize("field, value", BAD_FIELDS, ids=[f"{f}={v!r}" for f, v in BAD_FIELDS])
def test_form_fields_are_as_strict_as_the_spec(server, field, value):
    name, data, _ = digit_images(1)[0]
    status, result = server.predict_json([(name, data)], fields=[(field, value)])
    assert status == 400 and result["error"].startswith(f"{field}: expected "), result


def test_form_fields_left_out_take_their_defaults(server):
    name, data, _ = digit_images(1)[0]
    status, result = server.predict_json([(name, data)])
    assert status == 200 and len(result[0]["prediction"]) == 5
    status, result = server.predict_json([(name, data)], fields=[("labels", "2"), ("resize", "aspect-fit")])
    assert status == 200 and len(result[0]["prediction"]) == 2


def test_malformed_requests(server):
    cases = [
        ({"Content-Type": "multipart/form-data; boundary=x"}, b"--x\r\nno headers, no end", 400),
        ({"Content-Type": "multipart/form-data"}, b"--x--\r\n", 415),  # no boundary
        ({"Content-Type": "multipart/form-data; boundary=x"}, b"", 400),
        ({"Content-Type": "text/plain"}, b"files=1", 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"%zz=%%&labels=", 400),
        ({"Content-Type": "multipart/form-data; boundary=x", "Content-Length": "abc"}, None, 400),
    ]
    for headers, body, expected in cases:
        status, answer_headers, answer = server.request("POST", "/predict", body, headers)
        assert status == expected, (headers, body, status, answer[:300])
        if answer_headers.get("Content-Type") == "application/json":
            assert "error" in json.loads(answer)
    png = digit_images(1)[0][1]
    many = [(f"d{i}.png", png) for i in range(257)]
    status, result = server.predict_json(many)
    assert status == 400 and "too many files" in result["error"]
    assert server.healthy()


# -- bodies over the limit ------------------------------------------------------


def send_raw(port, head, body_chunks, timeout=60):
    """Send a request while reading the answer at the same time, the way a browser
    or curl does: a server may answer 413 and close before the body is sent.

    Args:
        port: the server's port.
        head: request line and headers, ending with the blank line.
        body_chunks: an iterable of bytes, sent after ``head``.

    Returns:
        ``(status, content type, body text)`` of the answer.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)

    def send():
        try:
            sock.sendall(head)
            for part in body_chunks:
                sock.sendall(part)
        except OSError:
            pass  # the server refused the rest: its answer is what counts
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data) < _answer_length(data):
            part = sock.recv(65536)
            if not part:
                break
            data += part
    finally:
        sock.close()
        sender.join(timeout)
    head_text, _, answer = data.partition(b"\r\n\r\n")
    lines = head_text.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers.get("Content-Type", ""), answer.decode("utf-8", "replace")


def _answer_length(data):
    """Total length of a response once its headers are in (Content-Length based)."""
    head, _, _ = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(head) + 4 + int(line.split(b":")[1])
    return len(data) + 1  # unknown: read until the server closes


def _fifty_mb(chunk=MB):
    """50 MB of incompressible bytes, as 1 MB parts, built only when sent."""
    block = bytes(range(256)) * (chunk // 256)
    return (block for _ in range(50))


def _multipart_head(length=None, chunked=False):
    boundary = "fifty"
    size = f"Content-Length: {length}\r\n" if length is not None else ""
    chunks = "Transfer-Encoding: chunked\r\n" if chunked else ""
    return (f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n{size}{chunks}"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n").encode()


def test_fifty_mb_body_is_413(server):
    rss = server.rss_kb()
    status, content_type, text = send_raw(server.port, _multipart_head(50 * MB), _fifty_mb())
    assert status == 413, text[:300]
    assert "Traceback" not in text and "too large" in text.lower()
    # Refused by waitress before the app sees it, in plain text: the spec must say so.
    spec = json.loads(server.request("GET", "/openapi.json")[2])
    assert content_type.split(";")[0] in spec["paths"]["/predict"]["post"]["responses"]["413"]["content"]
    # Sent chunked there is no length to refuse up front: the server counts.
    chunked = (b"%x\r\n%s\r\n" % (len(part), part) for part in _fifty_mb())
    status, _, text = send_raw(server.port, _multipart_head(chunked=True), chunked)
    assert status == 413, text[:300]
    # Just over the app's own 20 MB limit: the app answers, in JSON.
    status, content_type, text = send_raw(server.port, _multipart_head(21 * MB),
                                          (b"x" * MB for _ in range(21)))
    assert (status, content_type) == (413, "application/json")
    assert "limit of 20 MB" in json.loads(text)["error"]
    assert server.healthy()
    grown = server.rss_kb() - rss
    print(f"\nRSS {rss} kB before the big bodies, {rss + grown} kB after")
    assert grown < 150 * 1024, f"RSS grew by {grown} kB"


# -- path traversal -------------------------------------------------------------

TRAVERSAL_NAMES = [
    ("../../../../etc/passwd.png", "passwd.png"),
    # Backslashes escaped as a quoted-string needs them (a bare one is dropped by
    # the header parser); they arrive as Windows separators.
    (r"..\\..\\windows\\system32\\evil.png", "evil.png"),
    ("/etc/cron.d/job.png", "job.png"),
    (r"C:\\Users\\me\\Pictures\\cat.png", "cat.png"),
    ("a/b/../../../c.png", "c.png"),
    ("..", "file2"),
    (".", "file2"),
    ("photos/..", "file2"),
    ("%2e%2e%2fsecret.png", "%2e%2e%2fsecret.png"),  # names are not URL-decoded
    ("日本/写真.png", "写真.png"),
    ("x" * 3000 + ".png", "x" * 3000 + ".png"),
]


def _tree(folder):
    """Every path under ``folder`` with its size and mtime (to see nothing was written)."""
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.mark.parametrize("sent, kept", TRAVERSAL_NAMES, ids=[n[:30] for n, _ in TRAVERSAL_NAMES])
def test_file_names_lose_their_directories(server, trained_digits, sent, kept):
    project = trained_digits[0]
    before = _tree(project)
    digits = digit_images(2)
    status, result = server.predict_json([(digits[0][0], digits[0][1]), (sent, digits[1][1])])
    assert status == 200, result
    assert [r["filename"] for r in result] == [digits[0][0], kept]
    assert top_labels(result)[1] == digits[1][2]
    assert _tree(project) == before  # the service writes no files at all


TRAVERSAL_PATHS = ["/../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd",
                   "/static/../rest.py", "/static/index.html", "/predict/../../etc/passwd",
                   "/index.html", "/result.html", "/predict.html", "/..", "/%00", "/health%00.json"]


def test_paths_outside_the_routes_are_404(server):
    for path in TRAVERSAL_PATHS:
        status, headers, body = server.request("GET", path)
        assert status == 404, (path, status, body[:200])
        assert headers["Content-Type"] == "application/json" and "root:" not in body.decode()
        assert json.loads(body)["error"].startswith("not found")


def test_a_browser_gets_readable_html_errors(server):
    accept = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    name = "<img src=x onerror=alert(1)>.png"
    status, headers, body = server.predict([(name, b"not an image")], headers=accept)
    page = body.decode()
    assert status == 400 and headers["Content-Type"].startswith("text/html")
    assert "&lt;img src=x onerror=alert(1)&gt;.png: not a valid image" in page and name not in page
    assert "Traceback" not in page
    status, headers, body = server.request("GET", "/../etc/passwd", headers=accept)
    assert status == 404 and "not found" in body.decode() and "<html" in body.decode()
    digit = digit_images(1)[0]
    status, headers, body = server.predict([(digit[0], digit[1])], headers=accept)
    assert status == 200 and f'id="label-0">{digit[2]}</b>' in body.decode()


def test_stays_healthy(server):
    assert server.healthy()
