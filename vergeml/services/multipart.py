"""A small, strict ``multipart/form-data`` parser (the stdlib ``cgi`` module is gone).

The whole body is already in memory (its size is capped by the caller), so
parsing is a few ``bytes.find`` calls and never copies a part more than once.
"""
from dataclasses import dataclass
from email.message import Message
from email.utils import collapse_rfc2231_value


class MultipartError(ValueError):
    """The body is not valid multipart/form-data."""


@dataclass
class Part:
    """One form field: ``name``, ``filename`` (None for plain fields), ``data``."""

    name: str
    filename: str
    content_type: str
    data: bytes

    def text(self):
        """The value of a plain field as text."""
        return self.data.decode("utf-8", errors="replace")


def boundary_of(content_type):
    """The boundary parameter of a ``multipart/form-data`` Content-Type, or None."""
    msg = Message()
    msg["content-type"] = content_type
    if msg.get_content_type() != "multipart/form-data":
        return None
    boundary = msg.get_param("boundary")
    return str(boundary) if boundary else None


def parse(body, boundary, max_parts=1000):
    """Split a multipart body into parts.

    Args:
        body: the request body.
        boundary: the boundary string from the Content-Type header.
        max_parts: refuse bodies with more parts (each costs a header parse).

    Returns:
        list of :class:`Part`.

    Raises:
        MultipartError: on a malformed body.
    """
    if not boundary or len(boundary) > 200:
        raise MultipartError("missing or invalid multipart boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    pos = _first_delimiter(body, delimiter)
    parts = []
    while True:
        pos += len(delimiter)
        if body[pos:pos + 2] == b"--":
            return parts
        start = body.find(b"\r\n", pos)
        if start < 0 or body[pos:start].strip(b" \t"):
            raise MultipartError("malformed multipart delimiter line")
        start += 2
        end = _next_delimiter(body, delimiter, start)
        if len(parts) == max_parts:
            raise MultipartError(f"more than {max_parts} parts")
        parts.append(_part(body[start:end]))
        pos = end + 2


def _next_delimiter(body, delimiter, start):
    """Position of the CRLF before the next real delimiter line.

    ``CRLF--boundary`` counts only when followed by ``--`` or (optional
    whitespace and) CRLF, as RFC 2046 says; anything else is part data.
    """
    marker = b"\r\n" + delimiter
    while True:
        end = body.find(marker, start)
        if end < 0:
            raise MultipartError("multipart body is truncated (no closing boundary)")
        # A bounded slice: never copy the rest of a large body per candidate.
        rest = body[end + len(marker):end + len(marker) + 80]
        if rest.startswith(b"--") or rest.lstrip(b" \t").startswith(b"\r\n"):
            return end
        start = end + 1


def _first_delimiter(body, delimiter):
    if body.startswith(delimiter):
        return 0
    pos = body.find(b"\r\n" + delimiter)
    if pos < 0:
        raise MultipartError("multipart boundary not found in the body")
    return pos + 2


def _part(raw):
    head_end = raw.find(b"\r\n\r\n")
    if raw.startswith(b"\r\n"):
        head, data = b"", raw[2:]
    elif head_end < 0:
        raise MultipartError("multipart part without a header block")
    else:
        head, data = raw[:head_end], raw[head_end + 4:]
    headers = Message()
    for line in head.decode("utf-8", errors="replace").split("\r\n"):
        key, sep, value = line.partition(":")
        if not sep:
            raise MultipartError("malformed multipart part header")
        headers[key.strip()] = value.strip()
    if headers.get_content_disposition() != "form-data":
        raise MultipartError("multipart part is not form-data")
    name = headers.get_param("name", header="content-disposition")
    if name is None:
        raise MultipartError("multipart part without a field name")
    filename = headers.get_filename()
    return Part(name=collapse_rfc2231_value(name), filename=filename, data=data,
                content_type=headers.get("content-type", "text/plain"))
