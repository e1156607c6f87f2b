"""The live ``ml @name run:rest`` server for the reliability tests (no tests here).

:func:`serving` starts the real command in a subprocess on a free port of
127.0.0.1 (``--port 0``: the port is read from its ``Serving ... on`` line),
waits until ``/health`` answers, and stops it with SIGTERM at the end. The
child gets SIGINT and SIGTERM at their default dispositions whatever the test
runner inherited, so the stop signal always reaches the server's own handler.
"""
import contextlib
import json
import re
import signal
import time
from pathlib import Path

from tests.conftest import encode_multipart, ml_command, subprocess_env
from tests.server_process import ServerProcess

STARTUP_TIMEOUT = 120


class RestServer(ServerProcess):
    """A running ``ml @name run:rest`` process and a small HTTP client for it.

    Args:
        command, cwd, stderr_path, env: as for :class:`~tests.server_process.ServerProcess`.
        name: the instance name.
    """

    def __init__(self, command, cwd, stderr_path, env, name):
        super().__init__(command, cwd, stderr_path, env)
        self.name = name
        self.url = f"http://127.0.0.1:{self.port}"

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

    def wait_ready(self):
        """Wait for the ``Serving ... on`` line, then for ``/health``; kill it on failure."""
        try:
            pattern = rf"Serving @{re.escape(self.name)} on http://127\.0\.0\.1:(\d+)"
            self.port = int(self.wait_for_line(pattern, STARTUP_TIMEOUT, "server").group(1))
            self.url = f"http://127.0.0.1:{self.port}"
            _wait_for_health(self)
        except BaseException:
            self.stop(signal.SIGKILL)
            raise


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
    server = RestServer(command, project, stderr_path, subprocess_env(env), name)
    if wait:
        server.wait_ready()
    return server


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
    with start_server(project, name, env, *extra, folder=folder, wait=wait).stopping_cleanly() as server:
        yield server


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
