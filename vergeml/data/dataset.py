"""The data set: samples with labels and splits, and how to load their pixels.

:func:`load_dataset` is what ``ml train`` and ``ml preprocess`` call first.
It scans the samples, checks every new or changed file (reading nothing
that did not change), assigns splits and computes the fingerprint and the
per-sample cache keys. Pixels are only decoded later, by
:meth:`Dataset.load_array`, for samples the cache does not already hold.
"""
import os
from dataclasses import dataclass
from pathlib import Path


from vergeml.data import images
from vergeml.data.cache import Cache, input_stage
from vergeml.data.data_section import parse_data_config
from vergeml.data.fingerprint import FileIndex, Fingerprint, printable, sample_key
from vergeml.data.processing import Processing, encode_png, read_checked
from vergeml.data.split import SPLITS, SplitItem, SplitSpec, parse_split, report_duplicates
from vergeml.data.split_memory import remembered_splits
from vergeml.data.store import Store
from vergeml.console import warn
from vergeml.errors import ConfigError, VergeMLError
from vergeml.settings.option import first_set
from vergeml.settings.suggest import suggestion

MAX_LISTED = 10


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample (one variant of one file).

    Attributes:
        relpath: posix path relative to the samples dir (split directories
            outside it: relative to the project dir).
        file: absolute path of the file, as a string (``path`` is the Path).
        label: class name, or None for unlabeled sources.
        label_index: index of the label in ``Dataset.labels`` (-1 if unlabeled).
        split: ``train``, ``val`` or ``test``.
        variant: 0.. for the copies made by ``augment``/oversampling (train only).
        key: cache key of the processed image (see ``fingerprint.sample_key``).
        digest: sha256 of the file content (virtual samples, such as MNIST
            rows: of the sample's pixels).
    """

    relpath: str
    file: str
    label: str
    label_index: int
    split: str
    variant: int
    key: str
    digest: str

    @property
    def path(self):
        """Absolute :class:`~pathlib.Path` of the file (built on demand: a
        Path per sample would cost memory on large data sets)."""
        return Path(self.file)


class Dataset:
    """Samples by split, labels, fingerprint; loads processed images.

    Build it with :func:`load_dataset`.

    Args:
        config: the parsed ``data:`` section (:class:`vergeml.data.data_section.DataConfig`).
        labels: class names.
        samples: dict split -> list of :class:`Sample`.
        fingerprint: digest of the samples and their preprocessing.
        bad_files: ``(relpath, reason)`` of files skipped because they do not decode.
        cache_mode: the resolved cache mode.
        cache_dir: the project's cache folder.
        seed: the random seed (augmentation of training samples).
        split_specs: ``{'val': SplitSpec, 'test': SplitSpec}``: the settings
            the splits were made with (``split_spec('val').is_zero``: the
            user asked for no validation split).
    """

    def __init__(self, config, labels, samples, fingerprint, bad_files, cache_mode="auto",
                 cache_dir=None, seed=42, split_specs=None):
        self.config = config
        self.labels = labels
        self.fingerprint = fingerprint
        # (relpath, reason) of files skipped because they do not decode.
        self.bad_files = bad_files
        self._samples = samples
        self._ops = [op for op in config.operations if op.changes_pixels]
        self._random = any(op.random for op in config.operations)
        self._seed = seed
        self._cache_mode = cache_mode
        self._cache_dir = cache_dir
        self._split_specs = dict(split_specs or {})

    def samples(self, split):
        """Samples of a split (``train`` includes augmentation variants).

        Args:
            split: ``train``, ``val`` or ``test``.

        Returns:
            list of :class:`Sample`, sorted by relpath and variant.
        """
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        return list(self._samples[split])

    def split_spec(self, split):
        """The :class:`SplitSpec` ``val`` or ``test`` was made with (None if unknown)."""
        return self._split_specs.get(split)

    def files(self):
        """``(relpath, label, split, digest)`` per file (augmentation variants once)."""
        return [(s.relpath, s.label or "", s.split, s.digest)
                for split in SPLITS for s in self._samples[split] if s.variant == 0]

    def split_sizes(self):
        """``{'train': n, 'val': n, 'test': n}`` (train counts variants)."""
        return {split: len(self._samples[split]) for split in SPLITS}

    def cache_mode(self):
        """The cache mode: ``--cache`` when given, else ``data.cache``, else auto."""
        return self._cache_mode

    def open_cache(self):
        """The :class:`Cache` for this project (use as a context manager)."""
        return Cache(self._cache_mode, self._cache_dir)

    def load_array(self, sample, size=None, resize_mode="fill", cache=None):
        """The processed pixels of a sample. Thread-safe.

        Args:
            sample: a :class:`Sample`.
            size: resize the result to ``size`` x ``size`` (None: as the
                operations leave it).
            resize_mode: ``fill``, ``aspect-fill`` or ``aspect-fit``.
            cache: optional :class:`Cache`; used when it caches input images
                (modes ``disk-in``/``mem-in``).

        Returns:
            ``np.ndarray`` uint8 of shape (H, W, 3).

        Raises:
            BadImageError: the file cannot be decoded (e.g. changed since the scan).
            VergeMLError: an operation cannot be applied to this image.
        """
        stage = input_stage(size, resize_mode)
        use_cache = cache is not None and cache.enabled(stage)
        if use_cache:
            hit = cache.get(stage, sample.key)
            if hit is not None:
                return hit
        array = images.to_array(self.load_image(sample, size, resize_mode))
        if use_cache:
            cache.put(stage, sample.key, array)
        return array

    def load_image(self, sample, size=None, resize_mode="fill"):
        """Like :meth:`load_array`, but returns the ``PIL.Image`` (never cached)."""
        processing = self.processing
        img = processing.decode(self.read_bytes(sample), sample.file, size) \
            if self.config.source.reads_files else self.config.source.load(sample)
        return processing.apply(img, sample.relpath, sample.split, sample.variant,
                                size, resize_mode)

    @property
    def processing(self):
        """The :class:`Processing` of the samples' pixels (picklable: ship it to workers)."""
        return Processing(tuple(self._ops), self._seed, self._random)

    def read_bytes(self, sample):
        """A sample's encoded image: its file's bytes (checked against its digest), or,
        for a source without files (MNIST), its image encoded as PNG (lossless).

        Raises:
            BadImageError: the file cannot be read.
            VergeMLError: the file changed since the scan.
        """
        if self.config.source.reads_files:
            return read_checked(sample.file, sample.digest, sample.relpath)
        return encode_png(self.config.source.load(sample))

    def summary(self):
        """One line such as ``1,437 train, 180 val, 180 test samples, 10 labels``."""
        sizes = self.split_sizes()
        text = ", ".join(f"{sizes[s]:,} {s}" for s in SPLITS) + " samples"
        return text + (f", {len(self.labels)} labels" if self.labels else "")


@dataclass(slots=True)
class _File:
    relpath: str
    path: str
    label: str
    split: str          # fixed split (from a split directory) or None
    digest: str = ""
    reason: str = ""


def load_dataset(env, skip_bad=False, progress=True, assignment=None):
    """Scan, check, split and fingerprint the samples of a project.

    Args:
        env: the :class:`vergeml.settings.environment.Environment`.
        skip_bad: skip unreadable images with a warning instead of stopping.
        progress: show a progress bar while checking many new files.
        assignment: ``{relpath: split}`` to use for the samples-directory
            files instead of the project's remembered split (a resumed run's
            own record); then nothing is written: neither the split memory
            nor the digests of the files checked (files it lacks go to train).

    Returns:
        :class:`Dataset`.

    Raises:
        ConfigError: bad ``data:`` section or split settings.
        VergeMLError: no samples, a single class, bad files (unless skipped).
    """
    config = parse_data_config(env.data_config, env.project.lines)
    specs = {name: parse_split(env.settings.get(f"{name}-split", "10%"), f"{name}-split", env.project_dir)
             for name in ("val", "test")}
    files, labels = _scan(env, config.source, specs)
    specs = _source_splits(files, specs)
    cache_mode = _cache_mode(env, config)
    _check_files(env, [f for f in files if not f.digest], progress, on_disk=cache_mode != "none",
                 remember=assignment is None)
    files, bad = _handle_bad(files, skip_bad)
    if config.source.labeled:
        _check_labels(files, labels)
    elif not files:
        raise VergeMLError("no readable images left after skipping the unreadable ones")
    free = [f for f in files if f.split is None]
    if assignment is None:
        _assign(env, free, specs, config.source.labeled)
    else:
        for file in free:
            file.split = assignment.get(file.relpath, "train")
    report_duplicates([f.digest for f in files], [f.split for f in files], [f.relpath for f in files])
    if config.source.labeled:
        _warn_missing_classes(files, labels, specs)
    samples, fingerprint = _build_samples(env, config, files, labels, specs)
    return Dataset(config, labels, samples, fingerprint, bad, cache_mode=cache_mode,
                   cache_dir=env.cache_dir, seed=env.random_seed, split_specs=specs)


def _assign(env, free, specs, labeled):
    """Split the samples-directory files, continuing the project's remembered
    assignment (see :mod:`vergeml.data.split_memory`)."""
    if not free:
        return
    items = [SplitItem(f.relpath, f.digest, f.label if labeled else None) for f in free]
    splits = remembered_splits(env.project_dir, items, specs["val"], specs["test"],
                               env.random_seed, stratified=labeled)
    for file, split in zip(free, splits):
        file.split = split


def _scan(env, source, specs):
    """List files of the samples dir and of split directories."""
    split_dirs = {name: spec.value for name, spec in specs.items() if spec.kind == "dir"}
    found = source.scan(env.samples_dir, exclude=split_dirs.values())
    files = _files(found, env.samples_dir)
    labels = set(found.labels)
    for name, directory in split_dirs.items():
        extra = source.scan(directory)
        files += _files(extra, directory, _display_root(env, directory) + "/", name)
        labels.update(extra.labels)
    return files, sorted(labels)


def _files(found, root, prefix="", split=None):
    """``_File`` records of a :class:`ScanResult`; ``split`` overrides the source's."""
    count = len(found.files)
    digests, fixed = found.digests or [""] * count, found.splits or [None] * count
    root = str(root)
    return [_File(prefix + rel, os.path.join(root, rel), label, split or fixed_split, digest)
            for (rel, label), digest, fixed_split in zip(found.files, digests, fixed)]


def _source_splits(files, specs):
    """A split the source fixes (MNIST's t10k files are the test split) takes
    nothing from the other samples, as a split directory."""
    fixed = {f.split for f in files if f.split}
    return {name: spec if name not in fixed or spec.kind == "dir" else SplitSpec("dir", "source")
            for name, spec in specs.items()}


def _display_root(env, directory):
    for base in (env.samples_dir, env.project_dir.resolve()):
        if directory.is_relative_to(base):
            return directory.relative_to(base).as_posix()
    return directory.as_posix()


def _cache_mode(env, config):
    """--cache (or top-level cache:) > data: cache: > auto.

    ``--cache`` has no default of its own (None), so the global options'
    resolver leaves it unset unless typed or set at the top of the project
    file; the data section's value comes next.
    """
    return first_set(env.settings.get("cache"), config.cache, "auto")


def _check_files(env, files, progress, on_disk, remember=True):
    """Fill in digests and decode verdicts (remembered in the cache database,
    unless ``remember`` is off or in cache mode none, which writes nothing)."""
    store = Store(env.cache_dir if on_disk else None)
    try:
        infos = FileIndex(store, remember=remember).check([f.path for f in files], progress=progress)
    finally:
        store.close()
    for file, info in zip(files, infos):
        file.digest, file.reason = info.digest, info.reason


def _handle_bad(files, skip_bad):
    bad = [f for f in files if f.reason]
    if not bad:
        return files, []
    listing = "; ".join(f"{printable(f.relpath)}: {f.reason}" for f in bad[:MAX_LISTED])
    more = f" (and {len(bad) - MAX_LISTED} more)" if len(bad) > MAX_LISTED else ""
    if not skip_bad:
        raise VergeMLError(f"{len(bad)} unreadable image(s): {listing}{more}",
                           hint="Fix or remove them, or pass --skip-bad-files to skip them.")
    warn(f"skipping {len(bad)} unreadable image(s): {listing}{more}")
    return [f for f in files if not f.reason], [(printable(f.relpath), f.reason) for f in bad]


def _check_labels(files, labels):
    counts = {label: 0 for label in labels}
    for file in files:
        counts[file.label] = counts.get(file.label, 0) + 1
    empty = [label for label, n in counts.items() if n == 0]
    if empty:
        raise VergeMLError("no readable images left in class folder(s): "
                           + ", ".join(printable(label) for label in empty))
    if len(labels) < 2:
        raise VergeMLError(f"only one class found ({', '.join(labels) or 'none'}): "
                           "a classifier needs at least two",
                           hint="Add a second folder of images under the samples directory.")


def _warn_missing_classes(files, labels, specs):
    """Warn about classes a split lacks: none in train cannot be learned; none in
    val or test (a class of one or two images) is never scored there."""
    for split in SPLITS:
        spec = specs.get(split)
        if spec is not None and spec.is_zero:
            continue  # the user asked for no such split
        present = {f.label for f in files if f.split == split}
        missing = sorted(set(labels) - present)
        if not missing or (split != "train" and not present):
            continue  # an empty val or test split is its own message (or none), not per class
        if split == "train":
            warn("no training samples for class(es) " + ", ".join(missing))
        else:
            sizes = ", ".join(f"{label} ({sum(f.label == label for f in files)} image(s))"
                              for label in missing[:MAX_LISTED])
            warn(f"no {split} samples for class(es) {sizes}: too few images to "
                 f"put one in every split; the {split} scores leave them out")


def _oversample(source, labels):
    """Copies per training sample by class (``oversample``); a class that does not exist is an error."""
    factors = source.values.get("oversample") or {}
    unknown = sorted(set(factors) - set(labels))
    if unknown:
        raise ConfigError(f"data.input.oversample: no class named {unknown[0]!r}."
                          f"{suggestion(unknown[0], labels)}", hint=f"Classes: {', '.join(labels)}.")
    return factors


def _build_samples(env, config, files, labels, specs):
    """Expand files into samples (variants on train) and compute the fingerprint."""
    ops = config.operations
    ops_config = [op.config() for op in ops if op.changes_pixels]
    random_ops = any(op.random for op in ops)
    augment = 1
    for op in ops:
        augment *= op.variants
    oversample = _oversample(config.source, labels)
    index = {label: i for i, label in enumerate(labels)}
    fingerprint = Fingerprint({
        "source": config.source.config(), "ops": [op.config() | {"variants": op.variants} for op in ops],
        "splits": {n: s.config() for n, s in specs.items()}, "seed": env.random_seed,
        "labels": labels})
    samples = {split: [] for split in SPLITS}
    for file in sorted(files, key=lambda f: f.relpath):
        fingerprint.add(file.relpath, file.digest, file.label, file.split)
        train = file.split == "train"
        copies = augment * oversample.get(file.label, 1) if train else 1
        for variant in range(copies):
            random_part = [env.random_seed, file.relpath, variant] if train and random_ops else None
            samples[file.split].append(Sample(
                relpath=file.relpath, file=file.path, label=file.label,
                label_index=index.get(file.label, -1), split=file.split, variant=variant,
                key=sample_key(file.digest, ops_config, random_part), digest=file.digest))
    return samples, fingerprint.hexdigest()
