"""``ml @name run:rest`` against the live server: a real ``ml`` subprocess with
waitress on a free port of 127.0.0.1, real PNG/JPEG uploads, every route and error."""
import http.client
import io
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from tests.conftest import default_signals, encode_multipart, http_request
from tests.integration.predict_helpers import COLOURS, make_instance

pytestmark = pytest.mark.e2e

STARTUP_TIMEOUT = 60


def image_bytes(colour, fmt="PNG", size=(48, 36)):
    buffer = io.BytesIO()
    Image.new("RGB", size, COLOURS[colour]).save(buffer, format=fmt)
    return buffer.getvalue()


class Server:
    """The ``ml @tiny-tron run:rest`` subprocess and a tiny HTTP client for it."""

    def __init__(self, process, port, stderr_path):
        self.process, self.port, self.stderr_path = process, port, stderr_path

    def request(self, method, path, body=None, headers=None, timeout=30):
        return http_request(self.port, method, path, body, headers, timeout)

    def predict(self, files, fields=()):
        body, content_type = encode_multipart(fields, [("files", n, d) for n, d in files])
        status, headers, data = self.request("POST", "/predict", body, {"Content-Type": content_type})
        return status, json.loads(data)


def _read_lines(stream, lines):
    for line in iter(stream.readline, ""):
        lines.put(line)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    project = tmp_path_factory.mktemp("rest")
    make_instance(project / "trainings")
    yield from serving(project)


def serving(project, *extra):
    """Start ``ml @tiny-tron run:rest`` in ``project``; yield its :class:`Server`, then kill it."""
    stderr_path = project / "server.err"
    env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, "-m", "vergeml", "@tiny-tron", "run:rest", "--port", "0",
               "--no-browser", "--max-body", "1", "--threads", "4", *extra]
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE, stderr=stderr,
                                   text=True, env=env, preexec_fn=default_signals)
    lines = queue.Queue()
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    port = _wait_for_port(process, lines, stderr_path)
    srv = Server(process, port, stderr_path)
    srv.lines = lines
    try:
        yield srv
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def _wait_for_port(process, lines, stderr_path):
    """Port from the ``Serving @name on http://127.0.0.1:PORT`` line, then /health."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if process.poll() is not None:
                pytest.fail(f"server exited: {stderr_path.read_text()[-2000:]}")
            continue
        match = re.match(r"Serving @tiny-tron on http://127\.0\.0\.1:(\d+)", line)
        if match:
            port = int(match.group(1))
            while time.monotonic() < deadline:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    conn.request("GET", "/health")
                    if conn.getresponse().status == 200:
                        return port
                except OSError:
                    time.sleep(0.2)
    process.kill()
    pytest.fail(f"server did not start in {STARTUP_TIMEOUT} s: {stderr_path.read_text()[-2000:]}")


def test_health_and_pages(server):
    status, headers, body = server.request("GET", "/health")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"status": "ok", "instance": "tiny-tron"}
    status, headers, body = server.request("GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"@tiny-tron" in body and b"fetch(" in body
    status, headers, body = server.request("GET", "/predict")
    assert status == 200 and b'enctype="multipart/form-data"' in body and b'name="files"' in body
    status, _, body = server.request("HEAD", "/health")
    assert status == 200 and body == b""


def test_openapi(server):
    status, _, body = server.request("GET", "/openapi.json")
    spec = json.loads(body)
    assert status == 200 and spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == {"/", "/predict", "/explain", "/health", "/openapi.json"}
    assert {"get", "post"} <= set(spec["paths"]["/predict"])


def test_predict_png_and_jpeg_in_one_batch(server):
    status, result = server.predict([("red.png", image_bytes("red")),
                                     ("dir/green.jpg", image_bytes("green", "JPEG")),
                                     ("blue.png", image_bytes("blue", size=(300, 20)))])
    assert status == 200
    assert [r["filename"] for r in result] == ["red.png", "green.jpg", "blue.png"]
    assert [r["prediction"][0]["label"] for r in result] == ["red", "green", "blue"]
    first = result[0]["prediction"]
    assert len(first) == 3 and list(first[0]) == ["probability", "label"]
    assert abs(sum(p["probability"] for p in first) - 1) < 1e-4


def test_labels_and_resize_fields(server):
    status, result = server.predict([("red.png", image_bytes("red"))],
                                    fields=[("labels", "2"), ("resize", "aspect-fit")])
    assert status == 200 and len(result[0]["prediction"]) == 2
    status, result = server.predict([("red.png", image_bytes("red"))], fields=[("labels", "0")])
    assert status == 400 and "labels" in result["error"]
    status, result = server.predict([("red.png", image_bytes("red"))], fields=[("resize", "stretch")])
    assert status == 400 and "resize" in result["error"]


def test_bad_images_are_400_naming_the_file(server):
    png = image_bytes("red")
    status, result = server.predict([("ok.png", png), ("notes.txt", b"hello, not an image")])
    assert status == 400 and "notes.txt" in result["error"] and result["file"] == "notes.txt"
    status, result = server.predict([("cut.png", png[: len(png) // 2])])
    assert status == 400 and "cut.png" in result["error"]
    assert server.request("GET", "/health")[0] == 200


def test_missing_files_and_wrong_content(server):
    body, content_type = encode_multipart(fields=[("labels", "3")])
    status, _, data = server.request("POST", "/predict", body, {"Content-Type": content_type})
    assert status == 400 and "no files" in json.loads(data)["error"]
    status, _, data = server.request("POST", "/predict", b"{}", {"Content-Type": "application/json"})
    assert status == 415 and "multipart" in json.loads(data)["error"]
    status, _, data = server.request("POST", "/predict", b"labels=3",
                                     {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400 and "no files" in json.loads(data)["error"]
    status, _, data = server.request("POST", "/predict", b"--x\r\ngarbage",
                                     {"Content-Type": "multipart/form-data; boundary=x"})
    assert status == 400 and "multipart" in json.loads(data)["error"]


def test_body_over_the_limit_is_413(server):
    big = os.urandom(1024 * 1024 + 10)  # --max-body 1 (MB)
    body, content_type = encode_multipart(files=[("files", "big.png", big)])
    status, _, data = server.request("POST", "/predict", body, {"Content-Type": content_type})
    assert status == 413 and "limit" in json.loads(data)["error"]
    # A body far beyond the limit is refused from its Content-Length, before it is sent.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("POST", "/predict")
    conn.putheader("Content-Type", content_type)
    conn.putheader("Content-Length", str(500 * 1024 * 1024))
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()


def test_chunked_upload(server):
    body, content_type = encode_multipart(files=[("files", "red.png", image_bytes("red"))])
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", "/predict", body=iter([body[:100], body[100:]]),
                 headers={"Content-Type": content_type}, encode_chunked=True)
    response = conn.getresponse()
    assert response.status == 200
    assert json.loads(response.read())[0]["prediction"][0]["label"] == "red"
    conn.close()


def test_unknown_route_and_wrong_method(server):
    status, _, data = server.request("GET", "/nope")
    assert status == 404 and "error" in json.loads(data)
    status, headers, data = server.request("DELETE", "/predict")
    assert status == 405 and set(headers["Allow"].split(", ")) == {"GET", "HEAD", "POST"}
    assert "error" in json.loads(data)
    status, headers, _ = server.request("POST", "/health", b"")
    assert status == 405 and "POST" not in headers["Allow"]


def test_concurrent_requests(server):
    jobs = [("red", "PNG"), ("green", "JPEG"), ("blue", "PNG")] * 8

    def one(job):
        colour, fmt = job
        return server.predict([(f"{colour}.{fmt.lower()}", image_bytes(colour, fmt))])

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, jobs))
    assert all(status == 200 for status, _ in results)
    assert [r[0]["prediction"][0]["label"] for _, r in results] == [c for c, _ in jobs]


def test_no_traceback_leaked_and_clean_stop(server):
    """Runs last: Ctrl-C stops the server cleanly, and nothing crashed meanwhile."""
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(15) == 0
    assert "Traceback" not in server.stderr_path.read_text()
    output = []
    while not server.lines.empty():
        output.append(server.lines.get())
    assert "Stopped." in "".join(output)
