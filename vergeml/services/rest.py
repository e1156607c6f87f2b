"""The REST service behind ``ml @name run:rest``: a WSGI app served by waitress.

Routes: ``GET /`` explorer page, ``GET /predict`` upload form, ``POST
/predict`` (multipart, one or more ``files``), ``GET /health``, ``GET
/openapi.json``. Every error is a JSON ``{"error": ...}`` with a proper status;
tracebacks go to the server's stderr, never to the client.
"""
import html
import json
import sys
import threading
import traceback
import webbrowser
from pathlib import Path
from string import Template
from urllib.parse import parse_qs

from vergeml import __version__
from vergeml.errors import VergeMLError
from vergeml.options import OptionValueError
from vergeml.services import has_display, http_url, multipart, stop_on_sigterm

MB = 1024 * 1024
MAX_FILES = 256
STATIC = Path(__file__).parent / "static"
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           413: "Payload Too Large", 415: "Unsupported Media Type",
           500: "Internal Server Error"}


class HttpError(Exception):
    """An error answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status, message, headers=(), **extra):
        super().__init__(message)
        self.status, self.message, self.headers, self.extra = status, message, list(headers), extra


class RestApp:
    """The WSGI application.

    Args:
        predictor: a loaded :class:`vergeml.models.imagenet.predictor.Predictor`
            (may be set after construction, before serving).
        max_body: largest accepted request body, in bytes.
    """

    def __init__(self, predictor, max_body=20 * MB):
        self.predictor = predictor
        self.max_body = max_body
        self.routes = {
            "/": {"GET": self.index},
            "/predict": {"GET": self.form, "POST": self.predict},
            "/health": {"GET": self.health},
            "/openapi.json": {"GET": self.openapi},
        }

    def __call__(self, environ, start_response):
        try:
            status, content_type, body, headers = self.dispatch(environ)
        except HttpError as err:
            status, content_type, headers = err.status, "application/json", err.headers
            body = _json({"error": err.message, **err.extra})
        except Exception:  # noqa: BLE001 - log for the operator, hide from the client
            traceback.print_exc(file=sys.stderr)
            status, content_type, headers = 500, "application/json", []
            body = _json({"error": "internal server error"})
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body))),
                   ("Cache-Control", "no-store"), *headers]
        start_response(f"{status} {REASONS.get(status, '')}".strip(), headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else body]

    def dispatch(self, environ):
        """Find the handler for the path and method; 404 / 405 otherwise."""
        path = environ.get("PATH_INFO") or "/"
        methods = self.routes.get(path.rstrip("/") or "/")
        if methods is None:
            raise HttpError(404, f"not found: {path}")
        method = environ.get("REQUEST_METHOD", "GET")
        handler = methods.get("GET" if method == "HEAD" else method)
        if handler is None:
            allow = ", ".join(sorted({*methods, "HEAD"} if "GET" in methods else methods))
            raise HttpError(405, f"method {method} not allowed for {path}", [("Allow", allow)])
        return handler(environ)

    # -- pages ---------------------------------------------------------------

    def index(self, environ):
        return self._page("index.html")

    def form(self, environ):
        return self._page("predict.html")

    def _page(self, name):
        from vergeml.models.imagenet.predictor import RESIZE_MODES
        options = "".join(f'<option value="{m}"{" selected" if m == self.predictor.resize else ""}>'
                          f"{m}</option>" for m in RESIZE_MODES)
        text = Template((STATIC / name).read_text(encoding="utf-8")).safe_substitute(
            instance=html.escape(self.predictor.name), resize_options=options,
            labels=html.escape(", ".join(self.predictor.labels)), version=__version__,
            max_body=_megabytes(self.max_body), size=self.predictor.size)
        return 200, "text/html; charset=utf-8", text.encode("utf-8"), []

    def health(self, environ):
        return 200, "application/json", _json({"status": "ok", "instance": self.predictor.name}), []

    def openapi(self, environ):
        return 200, "application/json", _json(openapi_spec(self.predictor, self.max_body)), []

    # -- prediction ------------------------------------------------------------

    def predict(self, environ):
        """POST /predict: classify every uploaded file in one batch."""
        fields, files = self._read_form(environ)
        top_k, resize = _prediction_options(fields)
        if not files:
            raise HttpError(400, "no files: send one or more images in the multipart field 'files'")
        if len(files) > MAX_FILES:
            raise HttpError(400, f"too many files: {len(files)} (at most {MAX_FILES} per request)")
        results = self.predictor.predict_images(files, top_k=top_k, resize=resize)
        for result in results:
            if "error" in result:
                raise HttpError(400, f"{result['filename']}: not a valid image ({result['error']})",
                                file=result["filename"])
        body = [{"filename": r["filename"],
                 "prediction": [{"probability": p["probability"], "label": p["label"]}
                                for p in r["prediction"]]} for r in results]
        return 200, "application/json", _json(body), []

    def _read_form(self, environ):
        """Return ``(fields, files)`` of a multipart or urlencoded body."""
        content_type = environ.get("CONTENT_TYPE", "")
        boundary = multipart.boundary_of(content_type)
        urlencoded = content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded"
        if boundary is None and not urlencoded:
            raise HttpError(415, "expected a multipart/form-data body with one or more 'files'")
        body = self._read_body(environ)
        if urlencoded:
            query = parse_qs(body.decode("latin-1"))
            return {k: v[-1] for k, v in query.items()}, []
        try:
            parts = multipart.parse(body, boundary)
        except multipart.MultipartError as err:
            raise HttpError(400, f"bad multipart body: {err}") from None
        fields, files = {}, []
        for part in parts:
            if part.name == "files" and (part.filename or part.data):
                files.append((_safe_name(part.filename, len(files)), part.data))
            elif part.filename is None:
                fields[part.name] = part.text()
        return fields, files

    def _read_body(self, environ):
        """Read the body, refusing anything over the limit (413)."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise HttpError(400, "invalid Content-Length") from None
        limit = f"the request body is larger than the limit of {_megabytes(self.max_body)} MB"
        if length > self.max_body:
            raise HttpError(413, limit)
        # Read at most one byte past the limit so a lying client cannot flood us.
        body = environ["wsgi.input"].read(min(length, self.max_body + 1) if length else self.max_body + 1)
        if len(body) > self.max_body:
            raise HttpError(413, limit)
        return body


def _prediction_options(fields):
    """Validate the optional ``labels`` and ``resize`` form fields."""
    from vergeml.models.imagenet.predictor import LABELS_OPTION, RESIZE_OPTION
    values = []
    for option in (LABELS_OPTION, RESIZE_OPTION):
        raw = fields.get(option.name, "").strip()
        try:
            values.append(option.parse(raw) if raw else option.default)
        except OptionValueError as err:
            raise HttpError(400, f"{option.name}: {err}") from None
    return values


def _safe_name(filename, index):
    """The base name of an uploaded file, without any client-side directory."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name or f"file{index + 1}"


def _megabytes(size):
    """A byte count as MB text: ``20``, ``0.5``."""
    return f"{size / MB:g}"


def _json(value):
    return json.dumps(value).encode("utf-8")


def openapi_spec(predictor, max_body):
    """An OpenAPI 3 description of the service."""
    from vergeml.models.imagenet.predictor import LABELS_OPTION, RESIZE_MODES
    error = {"description": "Error", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}}
    html_page = {"200": {"description": "HTML page", "content": {"text/html": {}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": f"VergeML @{predictor.name}", "version": __version__,
                 "description": f"Image classifier with {len(predictor.labels)} labels: "
                                + ", ".join(predictor.labels[:20])
                                + (" ..." if len(predictor.labels) > 20 else "")},
        "paths": {
            "/": {"get": {"summary": "Explorer page", "responses": html_page}},
            "/health": {"get": {"summary": "Liveness check", "responses": {"200": {
                "description": "Service is up", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"status": {"type": "string"},
                                                     "instance": {"type": "string"}}}}}}}}},
            "/openapi.json": {"get": {"summary": "This document",
                                      "responses": {"200": {"description": "OpenAPI 3 document"}}}},
            "/predict": {
                "get": {"summary": "Upload form", "responses": html_page},
                "post": {
                    "summary": "Classify images",
                    "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                        "type": "object", "required": ["files"], "properties": {
                            "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                                      "description": "one or more images"},
                            "labels": {"type": "integer", "minimum": 1, "default": LABELS_OPTION.default,
                                       "description": "how many labels per image"},
                            "resize": {"type": "string", "enum": list(RESIZE_MODES),
                                       "default": predictor.resize}}}}}},
                    "responses": {
                        "200": {"description": "One entry per file, in upload order",
                                "content": {"application/json": {"schema": {
                                    "type": "array", "items": {"$ref": "#/components/schemas/Result"}}}}},
                        "400": error, "413": dict(error, description=f"Body over {_megabytes(max_body)} MB"),
                        "415": error, "500": error}}},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "string"},
                                                       "file": {"type": "string"}}},
            "Result": {"type": "object", "properties": {
                "filename": {"type": "string"},
                "prediction": {"type": "array", "items": {"type": "object", "properties": {
                    "probability": {"type": "number"}, "label": {"type": "string"}}}}}},
        }},
    }


def serve(instance, host="127.0.0.1", port=2204, threads=4, max_body_mb=20, browser=False,
          settings=None):
    """Load the instance's model once and serve it until Ctrl-C or SIGTERM.

    Args:
        instance: a :class:`vergeml.instances.Instance`.
        host: interface to listen on.
        port: TCP port (0 picks a free one).
        threads: waitress worker threads.
        max_body_mb: request body limit in MB.
        browser: open the explorer page in a web browser.
        settings: resolved global options (``--device`` ...) for loading the model.
    """
    from waitress.server import create_server
    from vergeml.models.imagenet.predictor import Predictor
    max_body = int(max_body_mb * MB)
    app = RestApp(None, max_body)
    try:
        # Bind before the slow model load so a taken port fails at once; nothing
        # is served before server.run(). waitress buffers bodies before calling
        # the app and answers 413 itself (plain text) above its own limit, so
        # keep that well above ours.
        server = create_server(app, host=host, port=port, threads=threads,
                               max_request_body_size=2 * max_body + MB, expose_tracebacks=False,
                               ident="vergeml", clear_untrusted_proxy_headers=True)
    except OSError as err:
        raise VergeMLError(f"cannot listen on {host}:{port}: {err.strerror or err}",
                           hint="Choose another port with --port.") from None
    print(f"Loading @{instance.name} ...", flush=True)
    try:
        app.predictor = Predictor(instance, settings)
        app.predictor.warm_up()
    except BaseException:
        server.close()
        raise
    url = http_url(host, getattr(server, "effective_port", port))
    print(f"Serving @{instance.name} on {url}  (Ctrl-C to stop)", flush=True)
    if browser and has_display():
        threading.Timer(0.5, webbrowser.open, [url]).start()
    stop_on_sigterm()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    print("Stopped.", flush=True)

