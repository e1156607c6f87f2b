"""What keeps ``ml ui`` local and safe: the host check, the URL token, the CSRF
token and the one rule for which files may be served.

- Bound to a loopback address (the default), the page answers only requests
  whose ``Host`` header names a loopback address, so a web page elsewhere
  cannot reach it through DNS rebinding.
- Bound to any other address, every request needs the random token printed
  with the URL (``?token=...``, then a same-site cookie), since anyone on the
  network can reach the port.
- Every ``POST`` needs the page's CSRF token (a hidden field or the
  ``X-CSRF-Token`` header), which another site cannot read.
- Only image files under the project's own folders are served, resolved with
  symlinks followed, so neither ``..`` (encoded or not) nor a symlink leads out.
"""
import hmac
import os
import secrets

from vergeml.data.formats import is_image_file

LOOPBACK = ("127.0.0.1", "localhost", "::1")
TOKEN_COOKIE = "vergeml_ui_token"
CSRF_FIELD = "csrf"
CSRF_HEADER = "HTTP_X_CSRF_TOKEN"


class Refused(Exception):
    """A request the guard turns away: ``status`` and a message for the page."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


def is_loopback(host):
    """Whether ``host`` (an address or name to bind) is this machine only."""
    return host in LOOPBACK or host.startswith("127.")


class Guard:
    """The checks of one server.

    Args:
        host: the address the server binds.
        token: the URL token (None: bound to loopback, no token asked).
    """

    def __init__(self, host, token=None):
        self.host, self.token = host, token
        self.csrf = secrets.token_urlsafe(24)

    @classmethod
    def for_host(cls, host):
        """The guard of a server bound to ``host``: a fresh token unless it is loopback."""
        return cls(host, None if is_loopback(host) else secrets.token_urlsafe(18))

    def check(self, request):
        """Check one request.

        Args:
            request: a :class:`werkzeug.wrappers.Request`.

        Returns:
            A ``Set-Cookie`` value to send when the token came in the URL, else None.

        Raises:
            Refused: 403 for a foreign Host, a missing or wrong token, a POST without
                the CSRF token.
        """
        # The bound address itself is a name the printed URL uses (--host=127.0.0.2); a
        # DNS name never is, so a rebinding page still gets no answer.
        if self.token is None and _host_name(request.host) not in (*LOOPBACK, self.host.lower()):
            raise Refused(403, f"this page serves only {', '.join(LOOPBACK)} (the Host header "
                               f"was {request.host!r})")
        cookie = self._check_token(request)
        if request.method == "POST" and not self._csrf_ok(request):
            raise Refused(403, "the form is out of date or came from another site: "
                               "reload the page and try again")
        return cookie

    def _check_token(self, request):
        if self.token is None:
            return None
        given = request.args.get("token")
        if given is not None and _same(given, self.token):
            return f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
        if _same(request.cookies.get(TOKEN_COOKIE, ""), self.token):
            return None
        raise Refused(403, "this page needs the token ml ui printed: open the URL with "
                           "?token=... as printed")

    def _csrf_ok(self, request):
        given = request.environ.get(CSRF_HEADER)
        # Only a small urlencoded form is read here: an upload's body is left for its app.
        if given is None and request.mimetype == "application/x-www-form-urlencoded":
            given = request.form.get(CSRF_FIELD)
        return given is not None and _same(given, self.csrf)


def _same(given, expected):
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def _host_name(host_header):
    """The name in a Host header, without port or IPv6 brackets."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def resolve_image(root, relpath):
    """The real path of an image file under ``root``, or None when it may not be served.

    Args:
        root: the folder the path is relative to (the samples or the project folder).
        relpath: a posix path as it came in the request (already percent-decoded once).

    Returns:
        The absolute path with symlinks resolved, only when it is an existing image
        file inside ``root`` as resolved: absolute paths, ``..`` parts, NUL bytes and
        symlinks leading out of ``root`` all give None.
    """
    if not relpath or "\0" in relpath or "\\" in relpath or relpath.startswith("/"):
        return None
    if any(part in ("..", "") for part in relpath.split("/")) or not is_image_file(relpath):
        return None
    base = os.path.realpath(root)
    real = os.path.realpath(os.path.join(base, *relpath.split("/")))
    if os.path.commonpath([base, real]) != base or not is_image_file(real):
        return None
    return real if os.path.isfile(real) else None
