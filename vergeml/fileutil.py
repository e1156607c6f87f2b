"""Atomic file writes: every file the tool writes goes through here.

A write goes to a temporary file in the same folder and is moved into place
with :func:`os.replace`, so a crash or Ctrl-C leaves either the old file or
the new one, never a half-written one.
"""
import contextlib
import os
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; move it into place on success.

    Use this for libraries that want a file name (``model.save(tmp)``). The
    temporary name keeps the target's suffix, since Keras and NumPy check it.

    Args:
        path: the final destination.

    Yields:
        A temporary path in the same folder.
    """
    import tempfile  # noqa: PLC0415 (lazy: commands that only read start faster)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + "".join(path.suffixes),
                               dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path, data):
    """Write ``data`` (bytes) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())


def atomic_write_text(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_sha256(path):
    """Hex SHA-256 of a file, read in chunks so memory stays flat."""
    import hashlib  # noqa: PLC0415 (lazy, as tempfile above)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
