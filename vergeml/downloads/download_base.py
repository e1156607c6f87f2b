"""The download plugin base: fetch files, unpack them, install class folders.

A download plugin (``ml download:<name>``) declares the files it needs and turns the
downloaded files into entries of the samples directory (normally one folder
per class). Everything is assembled in a staging folder under
``<cache-dir>/downloads/`` and moved into ``samples/`` only when complete, so
a failure never leaves half a data set behind.
"""
import contextlib
import os
import shutil
import tarfile
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from vergeml.commands.command_base import Command
from vergeml.data.formats import is_image_file
from vergeml.downloads import http
from vergeml.errors import VergeMLError

MIRROR_VARIABLE = "VERGEML_DOWNLOAD_MIRROR"


@dataclass(frozen=True)
class RemoteFile:
    """One file a download plugin fetches.

    Attributes:
        url: where to get it.
        filename: name under ``<cache-dir>/downloads/``.
        size: size in bytes, or None when unknown.
        sha256: hex digest, or None when unknown (then only the transfer
            length is checked).
        mirrors: other URLs serving the identical file, tried in order.
    """

    url: str
    filename: str
    size: int = None
    sha256: str = None
    mirrors: tuple = ()

    def urls(self):
        """The URLs to try, honouring ``$VERGEML_DOWNLOAD_MIRROR``.

        The variable points at a folder (http or file URL) holding the files
        under their ``filename``: for offline installs and tests.
        """
        mirror = os.environ.get(MIRROR_VARIABLE)
        if mirror:
            return [mirror.rstrip("/") + "/" + self.filename]
        return [self.url, *self.mirrors]


class Download(Command):
    """Base class of ``ml download:<name>`` plugins.

    Subclasses set the attributes and implement :meth:`prepare` (or override
    :meth:`download` entirely).

    Attributes:
        name: the part after ``download:``.
        description: one line for ``ml help download``.
        options: extra :class:`vergeml.settings.option.Option` declarations.
        files: tuple of :class:`RemoteFile`.
        classes: class folder names when known before downloading (checked
            early, so a conflict is reported before a long download).
        size_text: human size of the download (``786.7 MB``).
        source: home page of the data set, for the docs.
    """

    files = ()
    classes = None
    size_text = ""
    source = ""

    def run(self, args, env):
        """Command interface: a download plugin runs as a sub-command."""
        return self.download(env, args)

    def download(self, env, args):
        """Fetch, unpack and install the data set into ``env.samples_dir``.

        Args:
            env: the :class:`vergeml.settings.environment.Environment`.
            args: resolved options (``force`` replaces existing folders).

        Returns:
            Exit status (None means 0).
        """
        force = bool(args.get("force"))
        samples = env.samples_dir
        if self.classes:
            check_free(samples, self.classes, force)
        paths = [self.fetch(env, remote) for remote in self.files]
        with staging(env, self.name) as tmp:
            entries = self.prepare(paths, tmp, env)
            install(samples, entries, force)
        for path in paths:
            path.unlink(missing_ok=True)  # archives are large; the samples are what counts
        print(summary(entries, samples, env.project_dir))
        return 0

    def prepare(self, paths, tmp, env):
        """Turn downloaded files into samples-dir entries inside ``tmp``.

        Args:
            paths: local paths of :attr:`files`, in the same order.
            tmp: an empty staging folder to work in.
            env: the environment.

        Returns:
            List of ``(path inside tmp, name in the samples dir)``.
        """
        raise NotImplementedError

    def request_headers(self):
        """Extra HTTP headers for the downloads (none by default)."""
        return {}

    def fetch(self, env, remote):
        """Download one :class:`RemoteFile` into ``<cache-dir>/downloads/``.

        Tries the URL and its mirrors in turn; raises the first error when
        all fail.

        Returns:
            The local path.
        """
        dest = downloads_dir(env) / remote.filename
        first_error = None
        for url in remote.urls():
            try:
                return http.download(url, dest, expected_size=remote.size, sha256=remote.sha256,
                                     headers=self.request_headers())
            except VergeMLError as err:
                first_error = first_error or err
        raise first_error


def downloads_dir(env):
    """``<cache-dir>/downloads``, created on demand."""
    path = env.cache_dir / "downloads"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def staging(env, name):
    """A fresh folder under ``<cache-dir>/downloads/``, removed on exit."""
    path = downloads_dir(env) / f"{name}.tmp-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- archives -----------------------------------------------------------------

def extract(archive, dest):
    """Unpack a zip or tar archive into ``dest``, refusing unsafe paths.

    Members that would land outside ``dest`` (absolute paths, ``..``) and
    links pointing outside it are rejected, so a malicious archive cannot
    overwrite files elsewhere.

    Raises:
        VergeMLError: a corrupt archive (it is deleted, so that the next run
            downloads it again), an unsafe one, or a failure to write (disk
            full: the archive is kept).
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, dest)
        else:
            _extract_tar(archive, dest)
    except OSError as err:
        if err.errno is None:  # e.g. a broken gzip stream: the archive is corrupt
            raise _corrupt(archive, err) from None
        # Writing failed (disk full, permissions): the archive itself is fine.
        raise VergeMLError(f"could not extract {archive.name}: {err.strerror or err}",
                           hint="The archive was kept; fix the problem and run the command "
                                "again.") from None
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error) as err:
        raise _corrupt(archive, err) from None


def _corrupt(archive, err):
    """Delete a corrupt archive and return the error to raise."""
    archive.unlink(missing_ok=True)
    return VergeMLError(f"could not extract {archive.name}: {err}",
                        hint="The file was deleted; run the command again to download it anew.")


def _extract_zip(archive, dest):
    root = dest.resolve()
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            target = (root / info.filename).resolve()
            _inside(root, target, archive, info.filename)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)  # streams: memory stays flat


def _extract_tar(archive, dest):
    root = dest.resolve()
    with tarfile.open(archive, "r:*") as tf:
        if hasattr(tarfile, "data_filter"):
            try:
                tf.extractall(root, filter="data")
            except tarfile.FilterError as err:
                raise _unsafe(archive, str(err)) from None
            return
        members = []
        for member in tf:  # older Pythons: check names ourselves, skip links
            _inside(root, (root / member.name).resolve(), archive, member.name)
            if member.isfile() or member.isdir():
                members.append(member)
        tf.extractall(root, members=members)


def _inside(root, target, archive, name):
    if target != root and root not in target.parents:
        raise _unsafe(archive, f"member {name!r} points outside the target folder")


def _unsafe(archive, why):
    return VergeMLError(f"refusing to extract {Path(archive).name}: {why}",
                        hint="The archive is not the expected file; delete it and try again.")


def find_dir(root, *parts):
    """Find ``root/parts...`` with case-insensitive matching of each part.

    Raises:
        VergeMLError: naming the missing folder (unexpected archive layout).
    """
    current = Path(root)
    for part in parts:
        match = [p for p in current.iterdir() if p.is_dir() and p.name.lower() == part.lower()]
        if not match:
            raise VergeMLError(
                f"unexpected archive layout: folder {'/'.join(parts)} not found",
                hint="The download may be damaged or the data set has changed upstream.")
        current = match[0]
    return current


# -- installing into samples/ -------------------------------------------------

def check_free(samples, names, force):
    """Refuse when any of ``names`` exists in the samples dir (unless ``force``)."""
    if force:
        return
    taken = sorted(n for n in names if (Path(samples) / n).exists())
    if not taken:
        return
    shown = ", ".join(taken[:5]) + (f" (and {len(taken) - 5} more)" if len(taken) > 5 else "")
    raise VergeMLError(f"samples dir {samples} already contains {shown}",
                       hint="Move them away, or use --force to replace them.")


def install(samples, entries, force):
    """Move staged entries into the samples dir.

    All names are checked before anything moves, so a conflict leaves the
    samples dir untouched. With ``force`` existing entries are replaced.

    Args:
        samples: the samples directory (created if missing).
        entries: list of ``(staged path, name)``.
        force: replace existing folders/files of the same name.
    """
    samples = Path(samples)
    samples.mkdir(parents=True, exist_ok=True)
    check_free(samples, [name for _, name in entries], force)
    for src, name in entries:
        target = samples / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        shutil.move(str(src), str(target))  # a rename when on the same disk


def summary(entries, samples, project_dir):
    """``Wrote 1,797 images in 10 classes to samples/``."""
    samples = Path(samples)
    folders = [samples / name for _, name in entries if (samples / name).is_dir()]
    count = sum(1 for _, name in entries if (samples / name).is_file() and is_image_file(name))
    count += sum(1 for folder in folders for p in folder.rglob("*")
                 if p.is_file() and is_image_file(p.name))
    where = display_path(samples, project_dir)
    classes = f" in {len(folders):,} classes" if folders else ""
    return f"Wrote {count:,} images{classes} to {where}"


def display_path(path, base):
    """``samples/`` when inside ``base``, else the absolute path."""
    try:
        rel = Path(path).resolve().relative_to(Path(base).resolve())
    except ValueError:
        return str(path) + os.sep
    return f"{rel}/"
