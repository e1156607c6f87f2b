"""Shared fixtures for the whole test suite.

Fixtures (use them by naming them as test arguments):

``run_ml``
    ``run_ml(*args, cwd=None, env=None, timeout=120, input=None)`` runs the
    real ``ml`` command in a subprocess (the venv's ``ml`` script next to
    ``sys.executable``, else ``python -m vergeml``) and returns an
    :class:`MLResult` ``(returncode, stdout, stderr)``: unpack it as a tuple
    or use the attributes. ``env`` entries are added to (or, with value
    ``None``, removed from) a copy of ``os.environ``. The subprocess gets
    ``COLUMNS=100`` (deterministic help wrapping), ``TF_CPP_MIN_LOG_LEVEL=2``,
    ``PYTHONUNBUFFERED=1`` and no ``VERGEML_DEBUG`` unless ``env`` sets them.

``call_ml``
    ``call_ml(*args)`` runs ``vergeml.cli.main.main(list(args))`` in-process and
    returns an :class:`MLResult` with what it printed (captured with
    ``capsys``). The current directory is whatever the test chose, e.g. with
    ``monkeypatch.chdir(project)``. ``VERGEML_DEBUG`` is unset.

``make_project``
    ``make_project(yaml_text="model: imagenet\\n", name="proj", samples=True)``
    creates ``tmp_path/name/`` with that ``vergeml.yaml`` (``yaml_text=None``:
    no project file) and an empty ``samples/`` folder; returns the Path.

``project``
    A ready project folder: ``make_project()`` with the default arguments.

``keras_home``
    A temporary ``KERAS_HOME`` holding ``models/mobilenet_2_5_224_tf_no_top.h5``
    (the offline MobileNet alpha=0.25 ImageNet weights). The environment
    variable is set for the test (and so for ``run_ml`` subprocesses); the
    fixture returns the Path. The folder is shared by the whole session, so
    do not modify it. Fails the test when the weights file is not available.
"""
import os
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[1]
# No test reaches the network for weights (CI may have a network that hangs
# instead of refusing); a test of the online path removes this itself.
os.environ["VERGEML_OFFLINE"] = "1"
# CI lays ../shared beside the clone; the weights are part of it.
WEIGHTS_DIR = Path(os.environ.get("VERGEML_TEST_WEIGHTS", REPO.parent / "shared" / "weights"))
MOBILENET_WEIGHTS = "mobilenet_2_5_224_tf_no_top.h5"
DEFAULT_YAML = "model: imagenet\n"


class MLResult(NamedTuple):
    """What one ``ml`` invocation produced."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self):
        """stdout and stderr together (for messages that may go to either)."""
        return self.stdout + self.stderr


def ml_command():
    """The argv prefix that starts ``ml``: the venv's script, else ``python -m vergeml``."""
    script = Path(sys.executable).with_name("ml")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "vergeml"]


def subprocess_env(extra=None):
    """A copy of ``os.environ`` prepared for running ``ml`` in a subprocess."""
    env = dict(os.environ)
    env.pop("VERGEML_DEBUG", None)
    env.update({"COLUMNS": "100", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"})
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


def default_signals():
    """``preexec_fn`` for a child the test will signal: SIGINT and SIGTERM at
    their default dispositions, whatever the test runner inherited (``nohup
    make test &`` starts everything with SIGINT ignored, and a child inherits
    an ignored signal)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)


def http_request(port, method, path, body=None, headers=None, timeout=60):
    """One HTTP request to ``127.0.0.1:port`` on a new connection.

    Returns:
        ``(status, headers, body bytes)``; header names as sent by the server.
    """
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def encode_multipart(fields=(), files=()):
    """Body and Content-Type of a multipart/form-data request.

    Args:
        fields: ``(name, value)`` text fields.
        files: ``(field name, filename, bytes)`` file parts.
    """
    import io
    import uuid
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                  f"{value}\r\n".encode())
    for name, filename, data in files:
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                  f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode())
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def run_ml_process(*args, cwd=None, env=None, timeout=120, input=None):
    """Run ``ml *args`` in a subprocess; see the ``run_ml`` fixture."""
    proc = subprocess.run(ml_command() + [str(a) for a in args], cwd=cwd, env=subprocess_env(env),
                          capture_output=True, text=True, timeout=timeout, input=input)
    return MLResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def run_ml():
    """``run_ml(*args, cwd=None, env=None, timeout=120)`` -> ``MLResult`` (subprocess)."""
    return run_ml_process


@pytest.fixture
def call_ml(capsys, monkeypatch):
    """``call_ml(*args)`` -> ``MLResult``: ``vergeml.cli.main.main`` in-process."""
    from vergeml.cli.main import main
    monkeypatch.delenv("VERGEML_DEBUG", raising=False)
    monkeypatch.setenv("COLUMNS", "100")
    # main() adjusts these process-wide; restore them after the test.
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)

    def call(*args):
        capsys.readouterr()  # drop anything printed before
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return MLResult(code, out, err)
    return call


@pytest.fixture
def make_project(tmp_path):
    """``make_project(yaml_text=DEFAULT_YAML, name='proj', samples=True)`` -> Path."""
    def make(yaml_text=DEFAULT_YAML, name="proj", samples=True):
        folder = tmp_path / name
        folder.mkdir(parents=True, exist_ok=True)
        if yaml_text is not None:
            (folder / "vergeml.yaml").write_text(yaml_text, encoding="utf-8")
        if samples:
            (folder / "samples").mkdir(exist_ok=True)
        return folder
    return make


@pytest.fixture
def project(make_project):
    """A project folder with ``vergeml.yaml`` (``model: imagenet``) and ``samples/``."""
    return make_project()


@pytest.fixture(scope="session")
def _keras_home_dir(tmp_path_factory):
    source = WEIGHTS_DIR / MOBILENET_WEIGHTS
    if not source.is_file():
        pytest.fail(f"offline weights not found: {source} (set VERGEML_TEST_WEIGHTS)")
    home = tmp_path_factory.mktemp("keras_home")
    (home / "models").mkdir()
    shutil.copyfile(source, home / "models" / MOBILENET_WEIGHTS)
    return home


@pytest.fixture
def keras_home(_keras_home_dir, monkeypatch):
    """A KERAS_HOME with the offline MobileNet weights; exported for subprocesses."""
    monkeypatch.setenv("KERAS_HOME", str(_keras_home_dir))
    return _keras_home_dir
