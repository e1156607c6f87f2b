"""``ml [@name ...] run:tensorboard``: TensorBoard on the instances' training logs."""
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
import webbrowser
from pathlib import Path

from vergeml.command import Command, ANY_INSTANCES
from vergeml.errors import VergeMLError
from vergeml.options import Option
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
    from vergeml.trainings import load_instance, scan_instances
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


class TensorboardService(Command):
    """The ``run:tensorboard`` service plugin."""

    name = "tensorboard"
    description = "Run TensorBoard on the training logs of @name (or of every instance)."
    instance = ANY_INSTANCES
    options = (
        Option("host", default="127.0.0.1", metavar="HOST", help="Interface TensorBoard listens on."),
        Option("port", default=6006, type="int", rule="1..65535", help="TCP port of TensorBoard."),
        Option("no-browser", type="bool", flag=True, default=False, yaml=False,
               help="Do not open TensorBoard in a web browser."),
    )
    examples = ("ml run:tensorboard", "ml @nervous-tron @optimum-neuron run:tensorboard --port=6007")

    def run(self, args, env):
        """Start TensorBoard and wait until it exits or the user presses Ctrl-C."""
        pairs = log_dirs(env)
        url = http_url(args["host"], args["port"]) + "/"
        names = ", ".join("@" + name for name, _ in pairs)
        stop_on_sigterm()
        process = start(pairs, args["host"], args["port"])
        try:
            print(f"TensorBoard for {names} on {url}  (Ctrl-C to stop)", flush=True)
            if not args["no-browser"] and has_display():
                threading.Timer(3.0, webbrowser.open, [url]).start()
            code = process.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            stop(process)  # never leave TensorBoard running behind us
        if code:
            raise VergeMLError(f"TensorBoard exited with status {code}",
                               hint=f"Is port {args['port']} in use? Choose another with --port.")
        return 0

