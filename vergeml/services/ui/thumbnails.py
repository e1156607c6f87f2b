"""Thumbnails for the page's galleries: made on first request, cached on disk.

A thumbnail is a JPEG no larger than :data:`SIZE` pixels, decoded with JPEG
draft mode (a fraction of the full decode), and kept under
``<cache dir>/ui-thumbnails/`` by a key of the file's real path, size and
modification time, so an edited photo gets a new one and the galleries of
10,000 test images cost one decode per image once.
"""
import hashlib
import io
import os

from vergeml.fileutil import atomic_write_bytes

SIZE = 160
FOLDER = "ui-thumbnails"
# What an image that cannot be shown is drawn as (a virtual or unreadable sample).
PLACEHOLDER = (b'<svg xmlns="http://www.w3.org/2000/svg" width="160" height="160" role="img" '
               b'aria-label="no image"><rect width="160" height="160" fill="#eee"/>'
               b'<text x="80" y="85" font-size="14" text-anchor="middle" fill="#666" '
               b'font-family="system-ui, sans-serif">no image</text></svg>')


def cache_file(cache_dir, path, kind="thumb", extra=""):
    """Where the cached derivative of an image file lives.

    Args:
        cache_dir: the project's cache folder.
        path: the image's real path.
        kind: the derivative (``thumb``, ``heatmap``), the file's prefix.
        extra: what else the derivative depends on (a model, a label).

    Returns:
        The path, named by a digest of ``path``, its size and mtime, and ``extra``.

    Raises:
        OSError: the file cannot be stat'ed.
    """
    stat = os.stat(path)
    key = f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0{extra}".encode("utf-8", "surrogateescape")
    name = f"{kind}-{hashlib.sha1(key).hexdigest()}"
    return os.path.join(cache_dir, FOLDER, name)


def thumbnail(cache_dir, path):
    """The JPEG thumbnail of an image file, from the cache or made now.

    Args:
        cache_dir: the project's cache folder.
        path: the image's real path (checked by the caller).

    Returns:
        JPEG bytes, or None when the file does not decode.
    """
    from vergeml.data.images import BadImageError, load_image
    try:
        target = cache_file(cache_dir, path) + ".jpg"
        with open(target, "rb") as cached:
            return cached.read()
    except FileNotFoundError:
        pass
    except OSError:
        return None
    try:
        image = load_image(path, draft=(SIZE, SIZE))
    except (BadImageError, OSError):
        return None
    image.thumbnail((SIZE, SIZE))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    data = out.getvalue()
    keep(target, data)
    return data


def keep(target, data):
    """Cache a derivative at ``target`` (see :func:`cache_file`); a full or read-only
    disk only costs the next request a decode."""
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        atomic_write_bytes(target, data)
    except OSError:  # DiskError included
        pass

