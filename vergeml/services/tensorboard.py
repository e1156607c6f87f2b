"""TensorBoard on instances' training logs: the service behind ``ml run:tensorboard``."""
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import webbrowser
from pathlib import Path

from vergeml.errors import VergeMLError
from vergeml.services import has_display, http_url, stop_on_sigterm


def has_events(folder):
    """Whether ``folder`` holds TensorBoard event files (at any depth)."""
    folder = Path(folder)
    return folder.is_dir() and any(True for _ in folder.rglob("events.out*"))


def log_dirs(env):
    """The ``(name, tensorboard dir)`` pairs to show.

    Args:
        env: the environment; its ``@names`` choose instances, else all.

    Returns:
        Non-empty list of pairs.

    Raises:
        VergeMLError: when a named instance or every instance has no logs.
    """
    from vergeml.instances import load_instance, scan_instances
    if env.instance_names:
        pairs = []
        for name in env.instance_names:
            inst = load_instance(env.trainings_dir, name)
            if not has_events(inst.tensorboard_dir):
                raise VergeMLError(f"@{inst.name} has no TensorBoard logs in {inst.tensorboard_dir}")
            pairs.append((inst.name, Path(inst.tensorboard_dir)))
        return pairs
    # Every folder with logs counts, even one whose data.yaml is unreadable.
    pairs = [(i.name, Path(i.tensorboard_dir)) for i in scan_instances(env.trainings_dir, warn=False)
             if has_events(i.tensorboard_dir)]
    if not pairs:
        raise VergeMLError(f"no trainings with TensorBoard logs in {env.trainings_dir}",
                           hint="Train an instance first: ml train")
    return pairs


def tensorboard_executable():
    """The command prefix that starts TensorBoard.

    Returns:
        ``[path]`` of the ``tensorboard`` script beside this Python, or
        ``[python, -m, tensorboard.main]``.

    Raises:
        VergeMLError: when the tensorboard package is not installed.
    """
    beside = Path(sys.executable).parent / "tensorboard"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    if importlib.util.find_spec("tensorboard") is not None:
        return [sys.executable, "-m", "tensorboard.main"]
    found = shutil.which("tensorboard")
    if found:
        return [found]
    raise VergeMLError("TensorBoard is not installed.",
                       hint="Install it with: pip install tensorboard")


def tensorboard_command(pairs, host="127.0.0.1", port=6006):
    """The TensorBoard command line for the given ``(name, dir)`` pairs."""
    if len(pairs) == 1:
        logdir = ["--logdir", str(pairs[0][1])]
    else:
        logdir = ["--logdir_spec", ",".join(f"{name}:{path}" for name, path in pairs)]
    return [*tensorboard_executable(), *logdir, "--host", host, "--port", str(port)]


def start(pairs, host="127.0.0.1", port=6006, **popen):
    """Start TensorBoard in a subprocess.

    Returns:
        The :class:`subprocess.Popen`.
    """
    command = tensorboard_command(pairs, host, port)
    try:
        return subprocess.Popen(command, **popen)
    except OSError as err:
        raise VergeMLError(f"cannot start TensorBoard: {err.strerror or err}",
                           hint="Install it with: pip install tensorboard") from None


def stop(process, timeout=10):
    """Terminate TensorBoard, killing it if it does not exit within ``timeout`` s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve(pairs, host="127.0.0.1", port=6006, browser=True):
    """Run TensorBoard on ``pairs`` until it exits or the user presses Ctrl-C.

    Args:
        pairs: ``(instance name, log folder)`` pairs from :func:`log_dirs`.
        host: interface TensorBoard listens on.
        port: its TCP port.
        browser: open the page in a browser when a desktop session exists.
    """
    url = http_url(host, port) + "/"
    names = ", ".join("@" + name for name, _ in pairs)
    stop_on_sigterm()
    process = start(pairs, host, port)
    try:
        print(f"TensorBoard for {names} on {url}  (Ctrl-C to stop)", flush=True)
        if browser and has_display():
            threading.Timer(3.0, webbrowser.open, [url]).start()
        code = process.wait()
    except KeyboardInterrupt:
        return
    finally:
        stop(process)  # never leave TensorBoard running behind us
    if code:
        raise VergeMLError(f"TensorBoard exited with status {code}",
                           hint=f"Is port {port} in use? Choose another with --port.")
