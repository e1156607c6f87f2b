"""The live ``ml @name run:rest`` server for the reliability tests (no tests here).

:func:`serving` starts the real command in a subprocess on a free port of
127.0.0.1 (``--port 0``: the port is read from its ``Serving ... on`` line),
waits until ``/health`` answers, and stops it with SIGTERM at the end. The
child gets SIGINT and SIGTERM at their default dispositions whatever the test
runner inherited, so the stop signal always reaches the server's own handler.
"""
import contextlib
import json
import queue
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

from tests.conftest import default_signals, http_request, ml_command, subprocess_env
from tests.e2e.test_rest import encode_multipart

STARTUP_TIMEOUT = 120
STOP_TIMEOUT = 20


class RestServer:
    """A running ``ml @name run:rest`` process and a small HTTP client for it.

    Args:
        process: the ``subprocess.Popen`` of the server.
        port: the TCP port it serves on (127.0.0.1).
        stderr_path: where its stderr goes (tracebacks are logged there).
    """

    def __init__(self, process, port, stderr_path):
        self.process, self.port, self.stderr_path = process, port, Path(stderr_path)
        self.lines = queue.Queue()
        self.url = f"http://127.0.0.1:{port}"

    def request(self, method, path, body=None, headers=None, timeout=60):
        """One request on a new connection.

        Returns:
            ``(status, headers, body bytes)``; header names as sent by the server.
        """
        return http_request(self.port, method, path, body, headers, timeout)

    def predict(self, files, fields=(), headers=None):
        """POST /predict with ``files`` (``(filename, bytes)``) and text ``fields``.

        Returns:
            ``(status, headers, body bytes)``.
        """
        body, content_type = encode_multipart(fields, [("files", n, d) for n, d in files])
        return self.request("POST", "/predict", body, {"Content-Type": content_type, **(headers or {})})

    def predict_json(self, files, fields=()):
        """As :meth:`predict`; returns ``(status, decoded JSON)``."""
        status, _, body = self.predict(files, fields)
        return status, json.loads(body)

    def healthy(self):
        """Whether ``GET /health`` answers 200 ``{"status": "ok"}``."""
        status, _, body = self.request("GET", "/health", timeout=10)
        return status == 200 and json.loads(body)["status"] == "ok"

    def rss_kb(self):
        """The server's resident set size in kB (``VmRSS`` of /proc/<pid>/status)."""
        text = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"^VmRSS:\s+(\d+) kB", text, re.M).group(1))

    def stderr(self):
        """What the server wrote to stderr so far."""
        return self.stderr_path.read_text(errors="replace")

    def stdout(self):
        """The stdout lines read so far (drains the queue into ``self.seen``)."""
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "".join(self.seen)

    def wait_ready(self):
        """Wait for the ``Serving ... on`` line, then for ``/health``; kill it on failure."""
        try:
            self.port = _wait_for_port(self, self.name)
            self.url = f"http://127.0.0.1:{self.port}"
            _wait_for_health(self)
        except BaseException:
            self.stop(signal.SIGKILL)
            raise

    def stop(self, signum=signal.SIGTERM):
        """Send ``signum`` and wait for the exit; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode


def _pump(stream, lines):
    """Copy the server's stdout lines into a queue (a daemon thread)."""
    for line in iter(stream.readline, ""):
        lines.put(line)


def start_server(project, name, env, *extra, folder=None, wait=True):
    """Start ``ml @name run:rest --port 0 --no-browser *extra`` in ``project``.

    Args:
        project: the project folder (the working directory of the server).
        name: the instance name.
        env: extra environment (the ``ml_env`` fixture).
        *extra: more ``run:rest`` options.
        folder: where to keep the server's stderr (default: ``project``).
        wait: wait until it serves; with False, call :meth:`RestServer.wait_ready`
            later (to do other slow set-up while the model loads).

    Returns:
        A :class:`RestServer` (answering ``/health`` when ``wait``).

    Raises:
        AssertionError: when the server exits or does not come up in time.
    """
    stderr_path = Path(folder or project) / f"rest-{name}-{time.monotonic_ns()}.err"
    command = [*ml_command(), f"@{name}", "run:rest", "--port", "0", "--no-browser", *extra]
    with open(stderr_path, "w") as stderr:
        process = subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE, stderr=stderr,
                                   text=True, env=subprocess_env(env), preexec_fn=default_signals)
    server = RestServer(process, 0, stderr_path)
    server.name, server.seen = name, []
    threading.Thread(target=_pump, args=(process.stdout, server.lines), daemon=True).start()
    if wait:
        server.wait_ready()
    return server


def _wait_for_port(server, name):
    """The port of the ``Serving @name on http://127.0.0.1:PORT`` line."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    pattern = re.compile(rf"Serving @{re.escape(name)} on http://127\.0\.0\.1:(\d+)")
    while time.monotonic() < deadline:
        try:
            line = server.lines.get(timeout=0.5)
        except queue.Empty:
            assert server.process.poll() is None, f"server exited: {server.stderr()[-2000:]}"
            continue
        server.seen.append(line)
        match = pattern.match(line)
        if match:
            return int(match.group(1))
    raise AssertionError(f"server did not start in {STARTUP_TIMEOUT} s: {server.stderr()[-2000:]}")


def _wait_for_health(server):
    """Poll ``/health`` until it answers (the port is bound before serving starts)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if server.healthy():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"/health did not answer in {STARTUP_TIMEOUT} s: {server.stderr()[-2000:]}")


@contextlib.contextmanager
def serving(project, name, env, *extra, folder=None, wait=True):
    """:func:`start_server`, then stop it with SIGTERM and check it stopped cleanly
    (exit code 0, ``Stopped.``, and no traceback: a 500 would have logged one)."""
    server = start_server(project, name, env, *extra, folder=folder, wait=wait)
    try:
        yield server
    finally:
        code = server.stop()
    assert code == 0, f"server exit code {code} after SIGTERM: {server.stderr()[-2000:]}"
    assert "Stopped." in server.stdout(), server.stdout()[-2000:]
    assert "Traceback" not in server.stderr(), server.stderr()[-3000:]


def digit_images(count, start=1000):
    """Real scikit-learn digits as 8x8 grey PNGs, written exactly as
    ``ml download:digits`` writes the training samples.

    Args:
        count: how many images.
        start: index of the first digit in scikit-learn's 1,797.

    Returns:
        ``[(filename, PNG bytes, true label), ...]``.
    """
    from vergeml.downloads.digits import load_digits, to_png
    images, labels = load_digits()
    return [(f"digit-{i}.png", to_png(images[i]), str(labels[i])) for i in range(start, start + count)]


def top_labels(results):
    """The most likely label of each entry of a ``POST /predict`` JSON answer."""
    return [r["prediction"][0]["label"] for r in results]
