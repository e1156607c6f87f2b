"""Long-running services started by ``ml run:<service>`` and their shared helpers."""
import os
import signal
import sys
import threading
import webbrowser


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


def serve_until_stopped(server, url, browser=False, delay=0.5):
    """Open ``url`` in a browser (when asked and there is a display), then run a bound
    waitress ``server`` until Ctrl-C or SIGTERM, close it and say so.

    Args:
        server: a waitress server from ``create_server``.
        url: the address printed and opened.
        browser: open the page in a web browser.
        delay: seconds before the browser opens (the server is serving by then).
    """
    if browser and has_display():
        threading.Timer(delay, webbrowser.open, [url]).start()
    stop_on_sigterm()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    print("Stopped.", flush=True)
