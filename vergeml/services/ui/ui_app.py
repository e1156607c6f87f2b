"""The WSGI application of ``ml ui``: routes, the guard's checks, and errors as pages.

Every request passes :class:`~vergeml.services.ui.guard.Guard` first. A page
that fails answers with a readable page and the right status (a missing run
404, a broken one 422, a bad request 400); an unexpected error is logged on
the server's stderr and answered 500, and the server goes on serving.
"""
import sys
import traceback
from pathlib import Path

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from vergeml.errors import VergeMLError
from vergeml.services.ui import (data_page, gallery_page, image_routes, run_page, runs_page,
                                 try_page)
from vergeml.services.ui.guard import Refused
from vergeml.services.ui.ui_context import PageError, error_status

STATIC = Path(__file__).parent / "static"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}

ROUTES = Map([
    Rule("/", endpoint="runs", methods=["GET"]),
    Rule("/compare", endpoint="compare", methods=["GET"]),
    Rule("/compare/curves.svg", endpoint="compare_svg", methods=["GET"]),
    Rule("/run/<name>", endpoint="run", methods=["GET"]),
    Rule("/run/<name>/status", endpoint="status", methods=["GET"]),
    Rule("/run/<name>/curves.svg", endpoint="curves", methods=["GET"]),
    Rule("/run/<name>/<any(roc, pr):kind>.svg", endpoint="curve", methods=["GET"]),
    Rule("/run/<name>/images", endpoint="gallery", methods=["GET"]),
    Rule("/run/<name>/image", endpoint="image_page", methods=["GET"]),
    Rule("/run/<name>/heatmap.png", endpoint="heatmap", methods=["GET"]),
    Rule("/run/<name>/<any(predict, explain):route>", endpoint="rest", methods=["POST"]),
    Rule("/image", endpoint="image", methods=["GET"]),
    Rule("/thumb", endpoint="thumb", methods=["GET"]),
    Rule("/data", endpoint="data", methods=["GET"]),
    Rule("/data/review", endpoint="review", methods=["POST"]),
    Rule("/data/apply", endpoint="apply", methods=["POST"]),
    Rule("/data/undo", endpoint="undo", methods=["POST"]),
    Rule("/try", endpoint="try", methods=["GET"]),
    Rule("/static/<any('ui.css', 'ui.js'):file>", endpoint="static", methods=["GET"]),
], strict_slashes=False)

# endpoint -> (ctx, request, **route values) -> Response
PAGES = {
    "runs": lambda ctx, req: runs_page.runs_page(ctx, req),
    "compare": lambda ctx, req: runs_page.compare_page(ctx, req),
    "compare_svg": lambda ctx, req: runs_page.compare_svg(ctx, req),
    "run": lambda ctx, req, name: run_page.run_page(ctx, name),
    "status": lambda ctx, req, name: run_page.status_json(ctx, name),
    "curves": lambda ctx, req, name: run_page.curves_svg(ctx, name, req.args.get("metric")),
    "curve": lambda ctx, req, name, kind: run_page.curve_svg(ctx, name, kind),
    "gallery": gallery_page.gallery,
    "image_page": gallery_page.image_page,
    "heatmap": image_routes.heatmap,
    "image": image_routes.original,
    "thumb": image_routes.thumbnail,
    "data": data_page.data_page,
    "review": data_page.save_action,
    "apply": data_page.apply_review,
    "undo": data_page.undo,
    "try": try_page.try_page,
}


class UiApp:
    """The WSGI application over one project.

    Args:
        ctx: the :class:`~vergeml.services.ui.ui_context.UiContext`.
    """

    def __init__(self, ctx):
        self.ctx = ctx

    def __call__(self, environ, start_response):
        request = Request(environ)
        try:
            cookie = self.ctx.guard.check(request)
            endpoint, values = ROUTES.bind_to_environ(environ).match()
            if endpoint == "rest":
                return try_page.rest_call(self.ctx, environ, start_response, **values)
            response = self._page(endpoint, request, values)
            if cookie:
                response.headers.add("Set-Cookie", cookie)
        except Exception as err:  # noqa: BLE001 - every failure becomes a page
            response = self._failure(request, err)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Content-Security-Policy", CSP)
        return response(environ, start_response)

    def _page(self, endpoint, request, values):
        if endpoint == "static":
            data = (STATIC / values["file"]).read_bytes()
            return Response(data, content_type=STATIC_TYPES[Path(values["file"]).suffix])
        return PAGES[endpoint](self.ctx, request, **values)

    def _failure(self, request, err):
        """The answer to a request that failed: a page (JSON for the upload API)."""
        status, text = _status_and_text(err)
        if request.path.endswith(("/predict", "/explain")):
            import json
            return Response(json.dumps({"error": text}), status=status,
                            content_type="application/json")
        # A refused request (a foreign Host: maybe a DNS-rebinding page) must not read the
        # CSRF token off the page: with it, that site could post to the genuine address.
        return self.ctx.error_page(status, text, csrf=not isinstance(err, Refused))


# Scripts and styles only from this server; images may be blobs (the "Try it" heatmaps).
CSP = ("default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; "
       "script-src 'self'; frame-ancestors 'none'; form-action 'self'")


def _status_and_text(err):
    if isinstance(err, (Refused, PageError)):
        return err.status, err.message
    if isinstance(err, HTTPException):
        return err.code, err.description or err.name
    if isinstance(err, VergeMLError):  # an unknown run, a bad value, a broken run folder
        return error_status(err), err.message
    traceback.print_exc(file=sys.stderr)
    return 500, f"the server failed on this page ({type(err).__name__}); its terminal has the details"
