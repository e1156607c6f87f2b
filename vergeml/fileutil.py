"""Atomic file writes: every file the tool writes goes through here.

A write goes to a temporary file in the same folder and is moved into place
with :func:`os.replace`, so a crash or Ctrl-C leaves either the old file or
the new one, never a half-written one.

A write that fails because the disk is full, read-only or not writable
raises :class:`DiskError`: one line naming the folder, and still an
``OSError`` (with its ``errno``), so code that tolerates a failed write of a
pure cache keeps doing so.
"""
import contextlib
import errno
import os
import re
from pathlib import Path

from vergeml import faults
from vergeml.errors import VergeMLError

# What a write fails with when the disk, not the tool, is at fault.
DISK_FAULTS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}
DISK_HINT = "Free some space or make the folder writable, or choose another folder."


class DiskError(VergeMLError, OSError):
    """A write failed for a reason of the disk: full, read-only, not writable.

    Args:
        reason: e.g. ``no space left on device``.
        folder: the folder that was being written.
        code: the ``errno`` of the failure.
    """

    def __init__(self, reason, folder, code=None):
        super().__init__(f"{reason} writing {folder}", hint=DISK_HINT)
        self.errno, self.strerror, self.filename = code, reason, str(folder)
        self.folder = Path(folder)

    def __str__(self):
        return self.message  # not OSError's "[Errno 28] ...": the run's recorded error reads as printed


def disk_error(err, folder):
    """The :class:`DiskError` for an ``OSError`` of a write into ``folder``, or
    None when the failure is not a disk fault.

    Args:
        err: the ``OSError`` (h5py's carry the errno only in their text).
        folder: the folder written into.

    Returns:
        :class:`DiskError` or None.
    """
    if isinstance(err, DiskError):
        return err
    code = err.errno
    if code is None:
        found = re.search(r"errno = (\d+)", str(err))
        code = int(found[1]) if found else None
    reason = DISK_FAULTS.get(code)
    return DiskError(reason, folder, code) if reason else None


def require_space(folder, nbytes):
    """Fail cleanly before a library write that would not fail cleanly on a
    full disk: HDF5 (Keras' ``save_weights``) crashes the process when a write
    hits ENOSPC, so check the free space first.

    Args:
        folder: the folder about to be written (it must exist).
        nbytes: a generous estimate of what will be written.

    Raises:
        DiskError: fewer than ``nbytes`` are free there.
    """
    stat = os.statvfs(folder)
    if stat.f_bavail * stat.f_frsize < nbytes:
        raise DiskError(DISK_FAULTS[errno.ENOSPC], folder, errno.ENOSPC)


@contextlib.contextmanager
def writing(folder):
    """Turn a disk fault of the writes inside the block into a :class:`DiskError`.

    Args:
        folder: the folder written into, named in the message.
    """
    try:
        yield
    except OSError as err:
        translated = disk_error(err, folder)
        if translated is None:
            raise
        raise translated from None


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
    import tempfile
    path = Path(path)
    with writing(path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + "".join(path.suffixes),
                                   dir=path.parent)
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        try:
            yield Path(tmp)
            faults.point("file.replace", path.name)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


def atomic_save_weights(model, path):
    """``model.save_weights`` to ``path`` atomically, refusing a full disk first.

    HDF5 crashes the process (a segfault when the file is closed) when one of
    its writes hits ENOSPC, so the free space is checked against twice the
    weights' size plus 64 KB of HDF5 overhead before writing.

    Args:
        model: a Keras model or layer.
        path: the ``.weights.h5`` destination.

    Raises:
        DiskError: the disk is full (or read-only) there.
    """
    path = Path(path)
    size = sum(int(w.numpy().nbytes) for w in model.weights)
    with atomic_path(path) as tmp:
        require_space(path.parent, 2 * size + 65536)
        model.save_weights(tmp)


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
    import hashlib
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
