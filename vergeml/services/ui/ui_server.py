"""Serving ``ml ui``: waitress on the chosen address, the URL printed (with its token
when the address is not loopback), the browser opened, Ctrl-C to stop.

Why this stack: waitress and werkzeug already serve ``ml run:rest``, so the
page adds no dependency. Pages are rendered on the server, with SVG charts and
one small hand-written script (no front-end library to vendor or fetch), so it
works offline, starts in well under a second and imports TensorFlow only when
a model is asked for.
"""
from vergeml.console import warn
from vergeml.errors import VergeMLError
from vergeml.services import http_url, serve_until_stopped
from vergeml.services.ui.guard import Guard
from vergeml.services.ui.ui_app import UiApp
from vergeml.services.ui.ui_context import UiContext

MB = 1024 * 1024


def serve(paths, load_predictor, host="127.0.0.1", port=2205, threads=4, max_upload_mb=20,
          browser=True):
    """Serve the page of a project until Ctrl-C or SIGTERM.

    Args:
        paths: ``dict`` with ``project_dir``, ``samples_dir``, ``cache_dir``,
            ``trainings_dir`` and ``review_path``.
        load_predictor: ``instance -> Predictor``, called when a page first needs a model.
        host: interface to listen on; any but loopback needs the printed token.
        port: TCP port (0 picks a free one).
        threads: waitress worker threads.
        max_upload_mb: the largest upload, in MB.
        browser: open the page in a web browser (when there is a display).
    """
    from waitress.server import create_server
    guard = Guard.for_host(host)
    if guard.token:
        warn(f"ml ui listens on {host}, reachable from the network: anyone with the URL "
             "(token included) can see the runs and images")
    ctx = UiContext(guard=guard, load_predictor=load_predictor,
                    max_upload=int(max_upload_mb * MB), **paths)
    try:
        server = create_server(UiApp(ctx), host=host, port=port, threads=threads,
                               max_request_body_size=2 * ctx.max_upload + MB,
                               expose_tracebacks=False, ident="vergeml-ui",
                               clear_untrusted_proxy_headers=True)
    except OSError as err:
        raise VergeMLError(f"cannot listen on {host}:{port}: {err.strerror or err}",
                           hint="Choose another port with --port.") from None
    url = http_url(host, getattr(server, "effective_port", port)) + "/"
    if guard.token:
        url += f"?token={guard.token}"
    print(f"ml ui on {url}  (Ctrl-C to stop)", flush=True)
    serve_until_stopped(server, url, browser, delay=0.3)
