"""Long-running services started by ``ml run:<service>`` and their shared helpers."""
import os
import signal
import sys
import threading


def has_display():
    """Whether a browser or plot window can be opened (a desktop session exists)."""
    return sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def stop_on_sigterm():
    """Treat SIGTERM like Ctrl-C, so services clean up (close sockets, stop children)."""
    def handler(signum, frame):
        raise KeyboardInterrupt
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


def http_url(host, port):
    """``http://host:port`` with an IPv6 address in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
