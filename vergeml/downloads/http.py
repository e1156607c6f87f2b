"""Streaming HTTP download with resume, checksum and atomic rename.

Only the standard library (:mod:`urllib`) is used, so downloading needs no
extra dependency. Bytes go to ``<dest>.part`` first; an interrupted download
is resumed from there with an HTTP ``Range`` request, and the file appears
under its final name only once it is complete and verified.

Why our own: neither the standard library nor an installed library offers
these together. ``urllib.request.urlretrieve`` and ``keras.utils.get_file``
(heavy to import) neither resume nor lock; ``requests`` (installed only
through TensorFlow) would replace just ``urlopen`` and leave the Range
resume, the 416/ignored-Range fallbacks, the sha256 check, the free-space
check, the atomic rename and the lock against a concurrent download to us.
"""
import contextlib
import http.client
import os
import shutil
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path

from vergeml.errors import VergeMLError
from vergeml.fileutil import file_sha256

CHUNK = 1 << 16
USER_AGENT = "vergeml-download/0.2"
NETWORK_HINT = "Check your network connection, or download"


def download(url, dest, expected_size=None, sha256=None, progress=True, timeout=30,
             headers=None):
    """Download ``url`` to ``dest``, resuming a partial ``dest.part``.

    Args:
        url: http(s) URL.
        dest: final path of the file.
        expected_size: size in bytes, for the progress bar and the free-space
            check when the server sends no Content-Length (may be approximate).
        sha256: expected hex digest, or None when unknown (then only the
            Content-Length is checked).
        progress: show a tqdm bar on stderr (only when stderr is a terminal).
        timeout: seconds to wait for the connection and for each read.
        headers: extra request headers (e.g. a session cookie).

    Returns:
        ``dest`` as a :class:`pathlib.Path`.

    Raises:
        VergeMLError: network failure, HTTP error, truncated transfer,
            checksum mismatch or a failure to write (disk full), with a hint
            on what to do.
    """
    dest = Path(dest)
    if dest.is_file():
        _check_existing(dest, sha256)
        return dest  # downloaded by an earlier run, or placed there by hand
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    with open(part, "ab") as handle:
        _lock(handle, url)
        try:
            _fetch(url, part, handle, dest, expected_size, progress, timeout, headers or {})
        except (VergeMLError, OSError) as err:
            if os.fstat(handle.fileno()).st_size == 0:
                part.unlink()  # nothing to resume: leave no clutter (we hold the lock)
            if isinstance(err, OSError):  # network errors are VergeMLErrors already: the disk failed
                raise VergeMLError(f"could not write {part}: {err.strerror or err}",
                                   hint="Free some space or use --cache-dir to download elsewhere, "
                                        "then run the command again to resume.") from None
            raise
    _verify(url, part, sha256)
    os.replace(part, dest)
    return dest


def _check_existing(dest, sha256):
    """Check a file already at ``dest`` (possibly placed there by hand).

    A mismatch is reported, not deleted: it may be the user's own copy.
    """
    if sha256 is None:
        return
    actual = file_sha256(dest)
    if actual != sha256.lower():
        raise VergeMLError(
            f"{dest} is not the expected file: expected sha256 {sha256.lower()}, got {actual}",
            hint="Delete it to download the file again.")


def _lock(handle, url):
    """Refuse a second concurrent download into the same .part file."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks, accept the small risk
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise VergeMLError(f"another download of {url} is already running",
                           hint="Wait for it to finish, then try again.") from None


def _fetch(url, part, handle, dest, expected_size, progress, timeout, headers):
    """Stream the (remaining) bytes of ``url`` into the open ``.part`` handle."""
    offset = handle.seek(0, os.SEEK_END)
    response = _open(url, dest, offset, timeout, headers)
    if response is None:  # 416: the partial file does not fit the remote one
        handle.truncate(0)
        offset = 0
        response = _open(url, dest, 0, timeout, headers)
    with contextlib.closing(response):
        status = getattr(response, "status", None) or 200
        if offset and status != 206:
            handle.truncate(0)  # the server ignored Range: start over
            handle.seek(0)
            offset = 0
        length = _content_length(response)
        total = offset + length if length is not None else expected_size
        _check_space(part.parent, (total or 0) - offset)
        received = _copy(response, handle, url, dest, offset, total, progress, timeout)
    if length is not None and received != length:
        raise VergeMLError(
            f"could not download {url}: connection closed after {offset + received:,} "
            f"of {offset + length:,} bytes",
            hint="Run the command again to resume the download.")


def _open(url, dest, offset, timeout, headers):
    """Send the request; None when the server answers 416 to a Range request."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **headers})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        err.close()
        if err.code == 416 and offset:
            return None
        raise VergeMLError(f"could not download {url}: HTTP {err.code} {err.reason}",
                           hint=_manual_hint(dest)) from None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as err:
        raise VergeMLError(f"could not download {url}: {_reason(err)}",
                           hint=_manual_hint(dest, NETWORK_HINT)) from None


def _copy(response, handle, url, dest, offset, total, progress, timeout):
    """Copy the body in chunks, updating the progress bar; return bytes copied."""
    # Imported here: 'ml help download' loads the download plugins, and must stay light.
    from tqdm import tqdm
    received = 0
    with tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
              desc=dest.name, file=sys.stderr,
              disable=None if progress else True) as bar:
        while True:
            try:
                block = response.read(CHUNK)
            except (OSError, http.client.HTTPException) as err:
                handle.flush()
                raise VergeMLError(
                    f"could not download {url}: {_reason(err)} after {offset + received:,} bytes",
                    hint="Run the command again to resume the download.") from None
            if not block:
                break
            handle.write(block)
            received += len(block)
            bar.update(len(block))
    handle.flush()
    os.fsync(handle.fileno())
    return received


def _verify(url, part, sha256):
    """Delete the file and fail when its digest differs from ``sha256``."""
    if sha256 is None:
        return
    actual = file_sha256(part)
    if actual != sha256.lower():
        part.unlink()
        raise VergeMLError(
            f"checksum mismatch for {url}: expected sha256 {sha256.lower()}, got {actual}",
            hint="The damaged file was deleted; run the command again to download it anew.")


def _content_length(response):
    value = response.headers.get("Content-Length")
    return int(value) if value and value.isdigit() else None


def _check_space(folder, needed):
    """Fail before downloading when the disk clearly cannot hold the file."""
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise VergeMLError(
            f"not enough disk space in {folder}: need {needed / 1e6:,.0f} MB, "
            f"{free / 1e6:,.0f} MB free",
            hint="Free some space or use --cache-dir to download elsewhere.")


def _reason(err):
    """A short human reason from a urllib/socket exception."""
    reason = getattr(err, "reason", None) or err
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "timed out"
    text = getattr(reason, "strerror", None) or str(reason)
    return text or type(reason).__name__


def _manual_hint(dest, start="Download"):
    return f"{start} the file yourself and place it at {dest}"
