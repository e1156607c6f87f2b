"""Data sources (``data.input.type``) and outputs (``data.output.type``).

A file source only lists files; reading them is :mod:`vergeml.data.images`.
A source that holds many samples per file (``mnist``) lists virtual samples
with their digests and decodes them itself (:meth:`Source.load`). An output
turns processed samples into arrays (backbone features). Both are plugins
(entry-point group ``vergeml.io``).
"""
import os
from dataclasses import dataclass, field
from pathlib import Path

from vergeml.data.formats import IMAGE_EXTENSIONS, is_image_file
from vergeml.errors import ConfigError, VergeMLError
from vergeml.settings.option import Option
from vergeml.settings.option_set import Configurable
from vergeml.console import warn



@dataclass
class ScanResult:
    """What a source found under one directory.

    Attributes:
        files: sorted list of ``(relpath, label)``; relpath is posix and
            relative to the scanned directory; label is None when unlabeled.
        labels: sorted class names (empty for unlabeled sources).
        digests: content digest per file, when the source computes them
            itself (virtual samples); None: the files are digested and
            checked by the data layer.
        splits: fixed split per file (``test`` for MNIST's t10k files) or
            None per file; None: every file is split as usual.
    """

    files: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    digests: list = None
    splits: list = None


class IOPlugin(Configurable):
    """What sources and outputs share: name, options and their values.

    Attributes:
        role: ``input`` (a source) or ``output``.
        labeled: whether samples carry (sources) or need (outputs) a class label.
    """

    role = "input"
    labeled = False

    def config(self):
        """What the plugin's results depend on, for the fingerprint."""
        return {"type": self.name, **self.values}


class Source(IOPlugin):
    """Base class of a data source.

    Attributes:
        reads_files: whether every sample is one image file the data layer
            digests, checks and decodes; False: the source lists digests
            and decodes samples itself (:meth:`load`).
    """

    reads_files = True

    def scan(self, root, exclude=()):
        """List the samples under ``root``.

        Args:
            root: the directory (samples dir, or a split directory).
            exclude: resolved directories to skip (split directories nested
                inside the samples dir).

        Returns:
            :class:`ScanResult`.

        Raises:
            VergeMLError: when the directory is missing or holds no samples.
        """
        raise NotImplementedError

    def load(self, sample):
        """The RGB ``PIL.Image`` of a sample of a source that does not read files.

        Raises:
            VergeMLError: the sample changed since the scan.
        """
        raise NotImplementedError


class Output(IOPlugin):
    """Base class of a data output: processed samples -> one array each."""

    role = "output"

    def cache_stage(self, env):
        """The cache stage the arrays are stored under."""
        raise NotImplementedError

    def transform(self, env, dataset, samples, cache):
        """Arrays of samples, computing only what ``cache`` lacks.

        Args:
            env: the :class:`vergeml.settings.environment.Environment` (project settings).
            dataset: the :class:`vergeml.data.dataset.Dataset`.
            samples: list of its :class:`~vergeml.data.dataset.Sample`.
            cache: an open :class:`vergeml.data.cache.Cache`.

        Returns:
            dict sample key -> ``np.ndarray``.
        """
        raise NotImplementedError


class LabeledImageSource(Source):
    name = "labeled-image"
    description = "Images labeled by folder: samples/<class>/<image>."
    labeled = True
    options = (
        Option("oversample", type="dict", default={},
               help="Copies per training sample by class, e.g. {cat: 2}, to balance classes."),
    )

    def __init__(self, **values):
        super().__init__(**values)
        # YAML reads {0: 2} with an int key; class names are folder names, always strings.
        self.values["oversample"] = {str(label): n for label, n in self["oversample"].items()}

    def check(self):
        for label, factor in self["oversample"].items():
            if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
                raise ConfigError(f"oversample.{label}: expected an integer >= 1, got {factor!r}")

    def scan(self, root, exclude=()):
        root = _existing_dir(root)
        excluded = {Path(e).resolve() for e in exclude}
        classes, stray = [], []
        for entry in sorted(os.scandir(root), key=lambda e: e.name):
            if _hidden(entry.name) or Path(entry.path).resolve() in excluded:
                continue
            if entry.is_dir():
                if not _loops(entry.path, root.resolve(), entry.name):
                    classes.append(entry.name)
            elif is_image_file(entry.name):
                stray.append(entry.name)
        if stray:
            warn(f"ignoring {len(stray)} image(s) directly in {root} (labels come from sub-folders, "
                 f"samples/<class>/<image>): {_some(stray)}")
        if not classes:
            raise VergeMLError(f"no labels found in {root}: put the images in one sub-folder per class",
                               hint="For example samples/cat/1.jpg and samples/dog/1.jpg.")
        files, empty = [], []
        for label in classes:
            found = [(f"{label}/{rel}", label) for rel in _walk_images(root / label, excluded)]
            if not found:
                empty.append(label)
            files.extend(found)
        if empty:
            raise VergeMLError(f"no images in class folder(s) {_some(empty)} of {root}",
                               hint=f"Add images ({', '.join(IMAGE_EXTENSIONS)}) or remove the folder.")
        return ScanResult(files=files, labels=classes)


class ImageSource(Source):
    name = "image"
    description = "Unlabeled images, anywhere below the samples directory."
    options = (
        Option("input-patterns", type="list", default=None,
               help="Glob patterns of sample files relative to the samples dir, e.g. **/*.jpg "
                    "(default: every supported image)."),
    )

    def check(self):
        for pattern in self["input-patterns"] or ():
            if not pattern or Path(pattern).is_absolute():
                raise ConfigError(f"input-patterns: {pattern!r} is not a pattern relative to the "
                                  "samples dir, such as **/*.jpg")

    def scan(self, root, exclude=()):
        root = _existing_dir(root)
        excluded = {Path(e).resolve() for e in exclude}
        if self["input-patterns"]:
            rels = sorted({p.relative_to(root).as_posix() for pattern in self["input-patterns"]
                           for p in root.glob(pattern) if p.is_file()
                           and not _under(p, excluded)})
            rels = [r for r in rels if not any(_hidden(part) for part in r.split("/"))]
        else:
            rels = list(_walk_images(root, excluded))
        if not rels:
            raise VergeMLError(f"no images found in {root}",
                               hint=f"Supported: {', '.join(IMAGE_EXTENSIONS)}.")
        return ScanResult(files=[(rel, None) for rel in rels])


BUILTIN = {cls.name: cls for cls in (LabeledImageSource, ImageSource)}


def _existing_dir(root):
    root = Path(root)
    if not root.is_dir():
        raise VergeMLError(f"samples directory not found: {root}",
                           hint="Create it with one sub-folder per class, or run ml download:digits.")
    return root


def _walk_images(top, excluded):
    """Yield posix paths (relative to ``top``) of image files, sorted, skipping hidden entries.

    Folder symlinks are followed, except one that points back to a folder
    being walked (a loop, which would never end): it is skipped with a warning.
    """
    seen = set()  # resolved folders walked so far: a link to one of them is a loop
    for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
        real = Path(dirpath).resolve()
        seen.add(real)
        rel = Path(dirpath).relative_to(top)
        dirnames[:] = sorted(d for d in dirnames if not _hidden(d)
                             and Path(dirpath, d).resolve() not in excluded
                             and not _loops(os.path.join(dirpath, d), real, f"{top.name}/{rel / d}",
                                            seen))
        for name in sorted(filenames):
            if not _hidden(name) and is_image_file(name):
                yield (rel / name).as_posix()


def _loops(path, inside, shown, seen=()):
    """Whether the folder ``path`` is a symlink back to ``inside``, a folder
    above it or one already walked (warns, naming it as ``shown``): following
    it would never end.

    Args:
        path: the folder found while walking.
        inside: the resolved folder that contains it.
        shown: its name in the warning, relative to the samples directory.
        seen: resolved folders already walked.

    Returns:
        bool.
    """
    if not os.path.islink(path):
        return False
    target = Path(path).resolve()
    if not inside.is_relative_to(target) and target not in seen:
        return False
    warn(f"ignoring folder symlink {shown}: it leads back to {target}, a folder already searched (a loop)")
    return True


def _under(path, excluded):
    resolved = path.resolve()
    return any(resolved.is_relative_to(e) for e in excluded)


def _hidden(name):
    return name.startswith(".")


def _some(names, limit=5):
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
