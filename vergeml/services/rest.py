"""The REST service behind ``ml @name run:rest``: a WSGI app served by waitress.

Routes: ``GET /`` explorer page, ``GET /predict`` upload form, ``POST
/predict`` (multipart, one or more ``files``), ``GET /health``, ``GET
/openapi.json``. Every error is a JSON ``{"error": ...}`` with a proper status;
tracebacks go to the server's stderr, never to the client. A browser (a request
that prefers ``text/html`` in its Accept header, as a plain form submission does)
gets the predictions and the errors as a small HTML page instead of JSON.
"""
import html
import io
import json
import re
import sys
import traceback
from pathlib import Path
from urllib.parse import quote
from string import Template

from werkzeug.datastructures import MIMEAccept
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.http import parse_accept_header, parse_options_header

from vergeml import __version__
from vergeml.errors import UsageError, VergeMLError
from vergeml.models.model_base import LABELS_OPTION
from vergeml.settings.option import OptionValueError
from vergeml.services import http_url, serve_until_stopped
from vergeml.services.rest_openapi import MB, megabytes, openapi_spec

MAX_FILES = 256
STATIC = Path(__file__).parent / "static"
JSON, HTML = "application/json", "text/html; charset=utf-8"
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           413: "Payload Too Large", 415: "Unsupported Media Type",
           500: "Internal Server Error", 501: "Not Implemented"}
# What a predictor with unknown rejection adds to each result (passed through as given).
REJECTION_FIELDS = ("unknown", "ood_score", "threshold")


class HttpError(Exception):
    """An error answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status, message, headers=(), **extra):
        super().__init__(message)
        self.status, self.message, self.headers, self.extra = status, message, list(headers), extra


class RestApp:
    """The WSGI application.

    Args:
        predictor: a loaded :class:`vergeml.models.model_base.Predictor` of any model
            plugin (may be set after construction, before serving).
        max_body: largest accepted request body, in bytes.
        load: zero-argument callable returning the predictor, called when a request first
            needs it (``ml ui``: a body over the limit is refused before any model loads).
    """

    def __init__(self, predictor, max_body=20 * MB, load=None):
        self._predictor, self._load = predictor, load
        self.max_body = max_body
        self.routes = {
            "/": {"GET": self.index},
            "/predict": {"GET": self.form, "POST": self.predict},
            "/explain": {"POST": self.explain},
            "/health": {"GET": self.health},
            "/openapi.json": {"GET": self.openapi},
        }

    @property
    def predictor(self):
        """The predictor, loaded on first use when the app was given ``load``."""
        if self._predictor is None and self._load is not None:
            self._predictor = self._load()
        return self._predictor

    @predictor.setter
    def predictor(self, value):
        self._predictor = value

    def __call__(self, environ, start_response):
        try:
            status, content_type, body, headers = self.dispatch(environ)
        except HttpError as err:
            status, headers = err.status, err.headers
            content_type, body = self._error(environ, status, err.message, err.extra)
        except Exception:  # noqa: BLE001 - log for the operator, hide from the client
            traceback.print_exc(file=sys.stderr)
            status, headers = 500, []
            content_type, body = self._error(environ, status, "internal server error", {})
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

    def _error(self, environ, status, message, extra):
        """``(content type, body)`` of an error: JSON, or an HTML page for a browser."""
        if _wants_html(environ):
            content = f'<p class="error">{html.escape(message)}</p>'
            return HTML, self._render("result.html", title=f"{status} {REASONS.get(status, 'Error')}",
                                      content=content)
        return JSON, _json({"error": message, **extra})

    # -- pages ---------------------------------------------------------------

    def index(self, environ):
        return 200, HTML, self._render("index.html"), []

    def form(self, environ):
        return 200, HTML, self._render("predict.html"), []

    def _render(self, name, **values):
        """A page of ``static/`` with the instance's details (and ``values``) filled in.

        Args:
            name: the file name in ``static/``.
            **values: more ``$placeholders``, already HTML-escaped.

        Returns:
            The page as UTF-8 bytes.
        """
        predictor = self.predictor
        text = Template((STATIC / name).read_text(encoding="utf-8")).safe_substitute(
            instance=html.escape(predictor.name), option_fields=_option_fields(predictor),
            labels=html.escape(", ".join(predictor.labels)), version=__version__,
            max_body=megabytes(self.max_body), size=predictor.size, **values)
        return text.encode("utf-8")

    def health(self, environ):
        return 200, JSON, _json({"status": "ok", "instance": self.predictor.name}), []

    def openapi(self, environ):
        return 200, JSON, _json(openapi_spec(self.predictor, self.max_body)), []

    # -- prediction ------------------------------------------------------------

    def predict(self, environ):
        """POST /predict: classify every uploaded file in one batch."""
        fields, files = self._read_form(environ)
        top_k, options = _prediction_options(fields, self.predictor)
        if not files:
            raise HttpError(400, "no files: send one or more images in the multipart field 'files'")
        if len(files) > MAX_FILES:
            raise HttpError(400, f"too many files: {len(files)} (at most {MAX_FILES} per request)")
        try:
            results = self.predictor.predict_images(files, top_k=top_k, **options)
        except UsageError as err:  # an option this predictor cannot honour (reject=0.3, no score)
            raise HttpError(400, err.message) from None
        for result in results:
            if "error" in result:
                raise HttpError(400, f"{result['filename']}: not a valid image ({result['error']})",
                                file=result["filename"])
        body = [{"filename": r["filename"],
                 "prediction": [{"probability": p["probability"], "label": p["label"]}
                                for p in r["prediction"]],
                 **{k: r[k] for k in REJECTION_FIELDS if k in r}} for r in results]
        if _wants_html(environ):
            return 200, HTML, self._render("result.html", title="Predictions",
                                           content=_results_html(body)), []
        return 200, JSON, _json(body), []

    def explain(self, environ):
        """POST /explain: a PNG of the first uploaded image with a heatmap of what the
        prediction looked at (the ``label`` field: another class); the class explained is
        in the ``X-Label`` header, percent-encoded."""
        from vergeml.data.images import BadImageError as BadImage
        fields, files = self._read_form(environ)
        _, options = _prediction_options(fields, self.predictor)
        if not files:
            raise HttpError(400, "no files: send an image in the multipart field 'files'")
        name, data = files[0]
        try:
            label, png = self.predictor.heatmap_png(data, fields.get("label"), **options)
        except NotImplementedError:
            raise HttpError(501, f"@{self.predictor.name} draws no heatmaps") from None
        except UsageError as err:  # an unknown label, an export
            raise HttpError(400, err.message) from None
        except BadImage as err:
            raise HttpError(400, f"{name}: not a valid image ({err.reason})", file=name) from None
        except VergeMLError as err:  # the model, not the request: no layer to draw from
            raise HttpError(501, f"@{self.predictor.name} cannot draw heatmaps: {err.message}") from None
        return 200, "image/png", png, [("X-Label", quote(label, safe=""))]  # headers are latin-1

    def _read_form(self, environ):
        """Parse a multipart or urlencoded body with werkzeug's form parser.

        Args:
            environ: the WSGI environ of the request.

        Returns:
            ``(fields, files)``: the text fields by name (the last value wins),
            and ``(base name, bytes)`` of each upload in the ``files`` field.

        Raises:
            HttpError: 415 for another content type, 413 for a body over the
                limit, 400 for a malformed multipart body.
        """
        mimetype, params = parse_options_header(environ.get("CONTENT_TYPE", ""))
        mimetype = mimetype.lower()
        multipart = mimetype == "multipart/form-data" and params.get("boundary")
        if not multipart and mimetype != "application/x-www-form-urlencoded":
            raise HttpError(415, "expected a multipart/form-data body with one or more 'files'")
        body = self._read_body(environ)
        # silent=False: werkzeug would answer a malformed body with an empty form.
        # _read_body caps the size; max_form_parts bounds the parsing work of tiny parts.
        max_parts = 1000
        parser = FormDataParser(silent=False, max_form_parts=max_parts)
        try:
            _, form, uploads = parser.parse(io.BytesIO(body), mimetype, len(body), params)
        except RequestEntityTooLarge:
            raise HttpError(400, f"bad multipart body: more than {max_parts} parts") from None
        except ValueError as err:
            raise HttpError(400, f"bad multipart body: {err}") from None
        files = []
        for name, upload in uploads.items(multi=True):
            data = upload.read()
            upload.close()  # large uploads are spooled to a temporary file
            # An empty file input of a browser form sends a part without name or data.
            if name == "files" and (upload.filename or data):
                files.append((_safe_name(upload.filename, len(files)), data))
        return {name: form.getlist(name)[-1] for name in form}, files

    def _read_body(self, environ):
        """Read the body, refusing anything over the limit (413)."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise HttpError(400, "invalid Content-Length") from None
        limit = f"the request body is larger than the limit of {megabytes(self.max_body)} MB"
        if length > self.max_body:
            raise HttpError(413, limit)
        # Read at most one byte past the limit so a lying client cannot flood us.
        body = environ["wsgi.input"].read(min(length, self.max_body + 1) if length else self.max_body + 1)
        if len(body) > self.max_body:
            raise HttpError(413, limit)
        return body


def _prediction_options(fields, predictor):
    """Validate the optional ``labels`` field and the predictor's own option fields.

    A field left out takes its default; a field that is sent must be valid as
    ``/openapi.json`` declares it (an empty one is not: the pages mark their
    fields required, so only a client that means it sends one).

    Returns:
        ``(top_k, options)``: the label count and a dict for the predictor.

    Raises:
        HttpError: 400 naming the field and what it accepts.
    """
    values = {}
    for option in (LABELS_OPTION, *predictor.options):
        raw = fields.get(option.name)
        try:
            values[option.name] = option.default if raw is None else _parse_field(option, raw)
        except OptionValueError as err:
            raise HttpError(400, f"{option.name}: {err}") from None
    return values.pop(LABELS_OPTION.name), values


def _parse_field(option, raw):
    """A form field's value, as strict as JSON Schema: integers plain ASCII digits (``int()`` takes
    `` 3``, ``+3``, ``3_0``, other scripts' digits), booleans ``true`` or ``false`` (not ``yes``, ``1``).

    Raises:
        OptionValueError: the value is not what the option accepts.
    """
    if (option.type == "int" and not re.fullmatch(r"[0-9]+", raw)) or \
            (option.type == "bool" and raw not in ("true", "false")):
        raise OptionValueError(f"expected {option.describe()}, got {json.dumps(raw, ensure_ascii=False)}")
    return option.parse(raw)


def _wants_html(environ):
    """Whether the client prefers HTML to JSON (a browser's form submission does;
    curl, ``fetch()`` and HTTP libraries send ``*/*`` and get JSON)."""
    accept = parse_accept_header(environ.get("HTTP_ACCEPT", ""), MIMEAccept)
    return accept.best_match(["application/json", "text/html"], default="application/json") == "text/html"


def _results_html(results):
    """The predictions of ``POST /predict`` as HTML: per file its top label and a table."""
    parts = []
    for index, result in enumerate(results):
        name, best = html.escape(result["filename"]), result["prediction"][0]
        rows = "".join(f"<tr><td>{html.escape(p['label'])}</td><td>{100 * p['probability']:.2f}%</td></tr>"
                       for p in result["prediction"])
        label = "unknown" if result.get("unknown") else best["label"]
        why = (f' <small>(unlike the training images: score {result["ood_score"]:.3g} over the '
               f'threshold {result["threshold"]:.3g}; nearest class {html.escape(best["label"])})</small>'
               if result.get("unknown") else "")
        parts.append(f'<h3>{name}</h3><p class="label">predicted: '
                     f'<b id="label-{index}">{html.escape(label)}</b>{why}</p><table>{rows}</table>')
    return "\n".join(parts)


def _option_fields(predictor):
    """HTML form fields for the predictor's options: a list for a choice or a boolean
    (``resize``, ``tta``), a text field for the others (``reject``)."""
    fields = []
    for option in predictor.options:
        chosen = predictor.defaults.get(option.name, option.default)
        if option.type == "bool" or option.choices:
            choices = "".join(f'<option value="{html.escape(text)}"{" selected" if c == chosen else ""}>'
                              f"{html.escape(text)}</option>" for text, c in _choices(option))
            field = f'<select name="{option.name}">{choices}</select>'
        else:
            field = f'<input name="{option.name}" value="{html.escape(str(chosen))}" required>'
        fields.append(f'<label>{option.name} {field} <small>{html.escape(option.help)}</small></label>')
    return "\n".join(fields)


def _choices(option):
    """``(text, value)`` of what a form field offers: the choices, or true and false for a boolean."""
    values = (True, False) if option.type == "bool" else option.choices or ()
    return [(str(v).lower() if isinstance(v, bool) else str(v), v) for v in values]


def _safe_name(filename, index):
    """The base name of an uploaded file, without any client-side directory.

    Clients may save results under the names we echo, so a name that still
    points somewhere (``..``, ``.``) or holds control characters is not kept.

    Args:
        filename: the name the client sent (may be None).
        index: the upload's position, for the ``fileN`` fallback name.

    Returns:
        A plain file name.
    """
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip()
    return name if name not in ("", ".", "..") else f"file{index + 1}"


def _json(value):
    return json.dumps(value).encode("utf-8")


def serve(name, load_predictor, host="127.0.0.1", port=2204, threads=4, max_body_mb=20,
          browser=False):
    """Load the instance's model once and serve it until Ctrl-C or SIGTERM.

    Args:
        name: the instance name, for messages.
        load_predictor: zero-argument callable returning a :class:`vergeml.models.model_base.Predictor`;
            called once, after the port is bound.
        host: interface to listen on.
        port: TCP port (0 picks a free one).
        threads: waitress worker threads.
        max_body_mb: request body limit in MB.
        browser: open the explorer page in a web browser.
    """
    from waitress.server import create_server
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
    print(f"Loading @{name} ...", flush=True)
    try:
        app.predictor = load_predictor()
        app.predictor.warm_up()
    except BaseException:
        server.close()
        raise
    url = http_url(host, getattr(server, "effective_port", port))
    print(f"Serving @{name} on {url}  (Ctrl-C to stop)", flush=True)
    serve_until_stopped(server, url, browser)

