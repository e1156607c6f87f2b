"""The real ``ml ui`` in a subprocess on a synthetic project (no model, no weights): it
serves its pages without loading TensorFlow, binds 127.0.0.1 unless told otherwise, asks
for the printed token off loopback, answers bad input with a readable status and goes on
serving, and stops cleanly on SIGTERM and Ctrl-C. (How fast the first page comes is
measured by the benchmarks, not asserted here.)
"""
import contextlib
import os
import re
import select
import signal
import socket
import time
from pathlib import Path

import pytest

from tests.conftest import http_request, ml_command, run_ml_process, subprocess_env
from tests.server_process import ServerProcess
from tests.ui_helpers import csrf_of, make_ui_project, write_run

pytestmark = pytest.mark.e2e

STARTUP_TIMEOUT = 60
LINE = re.compile(r"ml ui on (http://(\S+?):(\d+)/(\?token=(\S+))?)  \(Ctrl-C to stop\)$")
MB = 1024 * 1024


class UiServer(ServerProcess):
    """A running ``ml ui`` process: its printed URL, port and token, and its output."""

    def __init__(self, command, cwd, stderr_path, env):
        super().__init__(command, cwd, stderr_path, env)
        self.url = self.host = self.token = None

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def wait_for_url(self):
        """Read stdout up to the ``ml ui on ...`` line; note the URL, port and token."""
        match = self.wait_for_line(LINE, STARTUP_TIMEOUT, "ml ui")
        self.url, self.host, self.port, self.token = (match.group(1), match.group(2),
                                                      int(match.group(3)), match.group(5))

    def mapped_files(self):
        """The files mapped into the server's memory (``/proc/<pid>/maps``)."""
        text = Path(f"/proc/{self.process.pid}/maps").read_text()
        return {line.split(None, 5)[5] for line in text.splitlines() if len(line.split(None, 5)) == 6}

    def listening(self):
        """``{(address, port)}`` of the server's own listening TCP sockets."""
        inodes = set()
        fd_dir = Path(f"/proc/{self.process.pid}/fd")
        for fd in fd_dir.iterdir():
            with contextlib.suppress(OSError):  # an fd closed meanwhile
                match = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(fd))
                if match:
                    inodes.add(match.group(1))
        found = set()
        for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
            path = Path(f"/proc/{self.process.pid}/net/{table}")
            if not path.exists():
                continue
            for line in path.read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # LISTEN, one of ours
                    found.add(_address(fields[1], family))
        return found


def _address(hex_address, family):
    """``(address, port)`` of a ``/proc/net/tcp`` local address (words in host byte order)."""
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(family, raw), int(port, 16)


def start_ui(cwd, *extra):
    """``ml ui --port=0 --no-browser *extra`` in ``cwd``, up to its printed URL."""
    stderr_path = Path(cwd).parent / f"ui-{time.monotonic_ns()}.err"
    server = UiServer([*ml_command(), "ui", "--port=0", "--no-browser", *extra], cwd, stderr_path,
                      subprocess_env())
    try:
        server.wait_for_url()
    except BaseException:
        server.stop(signal.SIGKILL)
        raise
    return server


@contextlib.contextmanager
def serving(cwd, *extra):
    """:func:`start_ui`, then SIGTERM: it must exit 0 with ``Stopped.`` and no traceback."""
    with start_ui(cwd, *extra).stopping_cleanly() as server:
        yield server


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """Four runs (two in a grid), a broken run folder, a run without test predictions and a
    review file: ``(project, files)``."""
    project, files, _ = make_ui_project(tmp_path_factory.mktemp("ui-e2e") / "proj", per_class=20)
    broken = project / "trainings" / "broken-run"
    broken.mkdir()
    (broken / "data.yaml").write_text("name: [unclosed\n  : : :\n")
    write_run(project / "trainings", "nopred-run", files=files, predictions=False)
    (project / "doctor").mkdir()
    (project / "doctor" / "review.csv").write_text(
        "kind,file,label,split,suggested,score,action\n"
        "label-issue,samples/cats/cats-000.png,cats,train,dogs,0.9100,keep\n")
    return project, files


@pytest.fixture(scope="module")
def server(project):
    """One ``ml ui`` on 127.0.0.1 for the tests that only read."""
    with serving(project[0]) as running:
        yield running


def no_tensorflow(server):
    loaded = sorted(f for f in server.mapped_files() if "tensorflow" in f or "_pywrap_tensorflow" in f)
    assert not loaded, loaded[:5]


# -- (a) the pages import no TensorFlow --------------------------------------------------

def test_the_pages_are_served_without_loading_tensorflow(server, project):
    _, files = project
    paths = ["/", "/run/alpha-run", "/data", "/try", "/run/alpha-run/images?wrong=1",
             "/run/alpha-run/images?true=1&pred=1", "/run/alpha-run/curves.svg",
             "/run/alpha-run/roc.svg", "/run/alpha-run/pr.svg", "/compare?run=alpha-run&run=beta-run",
             f"/run/alpha-run/image?file={files[0]}", f"/thumb?root=samples&file={files[0]}",
             f"/image?root=samples&file={files[0]}", "/static/ui.js", "/static/ui.css",
             "/run/alpha-run/status"]
    for path in paths:
        status, headers, body = server.get(path)
        assert status == 200, (path, body[-500:])
    mapped = server.mapped_files()
    # The check sees extension modules: NumPy's is loaded by the run pages.
    assert any("numpy" in f and f.endswith(".so") for f in mapped), sorted(mapped)[:20]
    no_tensorflow(server)


def test_the_first_page_is_html_with_the_runs(server):
    status, headers, body = server.get("/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    page = body.decode()
    for name in ("alpha-run", "beta-run", "gamma-run", "delta-run", "broken-run", "nopred-run"):
        assert f"/run/{name}" in page
    assert headers["Server"] == "vergeml-ui"


# -- bad input: a readable status, and the server goes on ------------------------------------

@pytest.mark.parametrize("path, status, text", [
    ("/run/broken-run", 422, "instance @broken-run is broken"),
    ("/run/unknown", 404, "unknown instance @unknown"),
    ("/run/nopred-run", 200, "@nopred-run has no test predictions"),
    ("/run/nopred-run/images?wrong=1", 404, "@nopred-run has no test predictions"),
    ("/compare?run=alpha-run", 400, "select two or more runs to compare"),
    ("/image?root=samples&file=../vergeml.yaml", 404, "no image"),
    ("/image?root=samples&file=..%2Fvergeml.yaml", 404, "no image"),
    ("/image?root=samples&file=%252e%252e%252fvergeml.yaml", 404, "no image"),
    ("/image?root=etc&file=x.jpg", 404, "no such image folder"),
    ("/nothing-here", 404, "was not found"),
])
def test_bad_requests_are_readable_pages_with_their_status(server, path, status, text):
    got, headers, body = server.get(path)
    assert got == status, body[-500:]
    assert headers["Content-Type"].startswith("text/html")
    assert text in body.decode()
    assert server.get("/")[0] == 200


def test_a_foreign_host_header_is_refused(server):
    status, _, body = server.get("/", headers={"Host": f"evil.example:{server.port}"})
    assert status == 403 and b"Host header" in body
    assert server.get("/", headers={"Host": f"localhost:{server.port}"})[0] == 200


def test_a_post_without_the_csrf_token_is_refused(server, project):
    review = project[0] / "doctor" / "review.csv"
    before = review.read_text()
    status, _, _ = server.request("POST", "/data/review", body="file=samples%2Fcats%2Fcats-000.png&action=remove",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403
    assert review.read_text() == before


def post_huge(port, path, size, headers):
    """POST ``size`` bytes, reading the answer as soon as one comes (the server may answer
    and close before the body is sent); returns ``(status, body bytes)``."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"127.0.0.1:{port}", "Content-Length": size,
                                                     "Connection": "close", **headers}.items())
        sock.sendall(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode())
        chunk, sent = b"\0" * 65536, 0
        sock.setblocking(False)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock] if sent < size else [], [], 1)
            if readable:
                break
            if writable:
                try:
                    sent += sock.send(chunk[:size - sent])
                except BlockingIOError:
                    continue
                except OSError:  # reset: it answered and closed
                    break
        sock.setblocking(True)
        sock.settimeout(30)
        data = b""
        with contextlib.suppress(ConnectionResetError):
            while True:
                part = sock.recv(65536)
                if not part:
                    break
                data += part
    match = re.match(rb"HTTP/1\.[01] (\d{3}) ", data)
    assert match, data[:300]
    return int(match.group(1)), data.split(b"\r\n\r\n", 1)[-1]


def test_a_50_mb_upload_is_413_and_the_server_goes_on(server):
    _, _, page = server.get("/try")
    token = csrf_of(page.decode())
    status, body = post_huge(server.port, "/run/alpha-run/predict", 50 * MB,
                             {"Content-Type": "multipart/form-data; boundary=x", "X-CSRF-Token": token})
    assert status == 413, body[:300]
    assert server.get("/")[0] == 200
    no_tensorflow(server)


# -- (b) the default binding ------------------------------------------------------------------

def test_it_binds_127_0_0_1_by_default(server):
    assert server.url == f"http://127.0.0.1:{server.port}/"
    assert server.token is None
    assert server.listening() == {("127.0.0.1", server.port)}
    assert "Warning" not in server.stderr()


# -- (c) another address: a warning and the token ---------------------------------------------

def test_another_host_warns_and_needs_the_printed_token(project):
    with serving(project[0], "--host=0.0.0.0") as server:
        warnings = [line for line in server.stderr().splitlines() if line.startswith("Warning: ")]
        assert len(warnings) == 1 and "0.0.0.0" in warnings[0], server.stderr()
        assert server.token and len(server.token) >= 16
        assert server.url == f"http://0.0.0.0:{server.port}/?token={server.token}"
        assert server.listening() == {("0.0.0.0", server.port)}
        status, _, body = server.get("/")
        assert status == 403 and b"token" in body
        assert server.get("/?token=wrong")[0] == 403
        assert server.get("/image?root=samples&file=cats/cats-000.png")[0] == 403
        status, headers, _ = server.get(f"/?token={server.token}")
        assert status == 200
        cookie = headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        # Then the cookie alone, whatever Host the network gave the machine.
        pair = cookie.split(";", 1)[0]
        assert server.get("/run/alpha-run", headers={"Cookie": pair})[0] == 200
        assert server.get("/data", headers={"Cookie": pair, "Host": f"192.0.2.7:{server.port}"})[0] == 200
        assert server.get("/", headers={"Cookie": pair[:-1]})[0] == 403
        no_tensorflow(server)


# -- (d) stopping ---------------------------------------------------------------------------

@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_it_cleanly(project, signum):
    server = start_ui(project[0])
    try:
        assert server.get("/")[0] == 200
        code = server.stop(signum)
    finally:
        server.stop(signal.SIGKILL)
    assert code == 0, server.stderr()[-2000:]
    assert server.stdout().rstrip().endswith("Stopped."), server.stdout()
    assert "Traceback" not in server.stderr()
    with pytest.raises(OSError):
        http_request(server.port, "GET", "/", timeout=5)


# -- (e) outside a project, (f) help ------------------------------------------------------------

def test_outside_a_project_it_is_a_one_line_error(tmp_path):
    result = run_ml_process("ui", "--port=0", "--no-browser", cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "not in a project" in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert "ml ui on" not in result.stdout


def test_a_taken_port_is_a_one_line_error(project):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_ml_process("ui", f"--port={port}", "--no-browser", cwd=project[0], timeout=60)
    assert result.returncode == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and f"cannot listen on 127.0.0.1:{port}" in errors[0], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("argv", [["help", "ui"], ["ui", "--help"]])
def test_help_shows_the_options(argv, tmp_path):
    result = run_ml_process(*argv, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.output
    for option in ("--host=<HOST>", "--port=<int>", "--no-browser", "--review=<FILE>",
                   "--max-upload=<MB>", "--threads=<int>"):
        assert option in result.stdout, option
    assert "127.0.0.1" in result.stdout and "token" in result.stdout
