"""A live server command in a subprocess, for the tests of ``ml ui`` and ``run:rest``
(no tests here).

:class:`ServerProcess` starts the command with its stdout on a pipe (a daemon thread
copies each line into a queue as it comes) and its stderr in a file, SIGINT and
SIGTERM at their default dispositions whatever the test runner inherited (so a stop
signal always reaches the server's own handler). It reads stdout up to the line that
says where it serves, sends one HTTP request at a time to 127.0.0.1, and stops the
process with a signal (killing it when it does not exit in time).
"""
import contextlib
import queue
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

from tests.conftest import default_signals, http_request

STOP_TIMEOUT = 20


class ServerProcess:
    """A running server command and its output.

    Args:
        command: the argv.
        cwd: its working directory.
        stderr_path: where its stderr goes.
        env: its whole environment (e.g. :func:`tests.conftest.subprocess_env`).

    Attributes:
        process: the ``subprocess.Popen``.
        stderr_path: the :class:`~pathlib.Path` of its stderr.
        port: the TCP port it serves on (0 until a subclass has read it).
        lines: a queue of the stdout lines not read yet.
        seen: the stdout lines read so far.
    """

    def __init__(self, command, cwd, stderr_path, env):
        self.stderr_path = Path(stderr_path)
        with open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=stderr,
                                            text=True, env=env, preexec_fn=default_signals)
        self.lines, self.seen = queue.Queue(), []
        self.port = 0
        threading.Thread(target=_pump, args=(self.process.stdout, self.lines), daemon=True).start()

    def request(self, method, path, body=None, headers=None, timeout=60):
        """One request to 127.0.0.1 on a new connection.

        Returns:
            ``(status, headers, body bytes)``; header names as sent by the server.
        """
        return http_request(self.port, method, path, body, headers, timeout)

    def stdout(self):
        """The stdout lines read so far (drains the queue into ``self.seen``)."""
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "".join(self.seen)

    def stderr(self):
        """What the server wrote to stderr so far."""
        return self.stderr_path.read_text(errors="replace")

    def wait_for_line(self, pattern, timeout, what):
        """Read stdout (into ``self.seen``) up to the first line that ``pattern`` matches
        (``re.match`` on the line without its newline).

        Args:
            pattern: a regular expression (string or compiled).
            timeout: seconds to wait at the most.
            what: the server's name in the failure messages.

        Returns:
            The match.

        Raises:
            AssertionError: when the process exits first or no such line comes in time.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                assert self.process.poll() is None, f"{what} exited: {self.stderr()[-2000:]}"
                continue
            self.seen.append(line)
            match = re.match(pattern, line.rstrip("\n"))
            if match:
                return match
        raise AssertionError(f"{what} did not start in {timeout} s: {self.stdout()[-2000:]}"
                             f"{self.stderr()[-2000:]}")

    def stop(self, signum=signal.SIGTERM):
        """Send ``signum`` and wait for the exit; returns the exit code (killed after a timeout)."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode

    @contextlib.contextmanager
    def stopping_cleanly(self):
        """Yield the server; at the end stop it with SIGTERM, and it must have stopped
        cleanly: exit code 0, ``Stopped.`` on stdout and no traceback on stderr (a 500
        would have logged one)."""
        try:
            yield self
        finally:
            code = self.stop()
        assert code == 0, f"exit code {code} after SIGTERM: {self.stderr()[-2000:]}"
        assert "Stopped." in self.stdout(), self.stdout()[-2000:]
        assert "Traceback" not in self.stderr(), self.stderr()[-3000:]


def _pump(stream, lines):
    """Copy the server's stdout lines into a queue (a daemon thread)."""
    for line in iter(stream.readline, ""):
        lines.put(line)
