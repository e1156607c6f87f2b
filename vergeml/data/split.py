"""Train/validation/test assignment.

``val-split`` and ``test-split`` are each a percentage (``10%``), a count
(``100``) or a directory (relative to the project directory) holding that
split's samples. The samples of the samples directory are assigned here:

- **Targets.** With labelled data a percentage applies to each class
  separately and rounds to the nearest whole image (halves up); a class of
  3 or more images gets at least one image in each split whose setting is
  not zero; every class keeps at least one training image. Without labels
  the whole set is one class. A count is a total over all classes, shared
  out in proportion to the class sizes (largest remainder), exact in total.
- **Fresh assignment.** Within a class the images are ordered by a hash of
  ``(seed, content digest)``: the first go to val, the next to test, the rest
  to train. The same seed and the same images always give the same split.
- **Growing projects.** :func:`place_splits` takes the assignment of the
  previous run (``remembered``): an image keeps its split (matched by content
  digest, else by path for an image edited in place), so a val or test image
  never moves to train. New images fill each split up to its target first;
  if that is not enough, training images are moved into the short split. A
  split already over its target (after removals) keeps its images.

Remembering the assignment between runs is :mod:`vergeml.data.split_memory`.
"""
import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from vergeml.errors import ConfigError
from vergeml.console import warn


SPLITS = ("train", "val", "test")
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_COUNT = re.compile(r"^\s*\d+\s*$")
# Classes of this many images get at least one val and one test image.
MIN_FOR_EVERY_SPLIT = 3
# Characters of the content digest remembered per file (128 bits).
DIGEST_CHARS = 32


@dataclass(frozen=True)
class SplitSpec:
    """One parsed split setting.

    Attributes:
        kind: ``percent``, ``count`` or ``dir``.
        value: the fraction (0..1), the count, or the resolved directory.
    """

    kind: str
    value: object

    def config(self):
        """Stable description for the fingerprint."""
        return [self.kind, str(self.value)]

    @property
    def is_zero(self):
        """Whether the setting asks for no samples at all (``0`` or ``0%``)."""
        return self.kind in ("percent", "count") and self.value == 0


@dataclass(frozen=True)
class SplitItem:
    """What the assignment knows of one sample.

    Attributes:
        relpath: the sample's relative path.
        digest: its content digest.
        label: its class (None: unlabeled; all such items form one class).
    """

    relpath: str
    digest: str
    label: object = None


def parse_split(value, option, project_dir):
    """Parse a ``val-split``/``test-split`` value.

    Args:
        value: ``'10%'``, ``'100'`` (or an int), or a directory name.
        option: the option name, for messages.
        project_dir: directories are relative to it.

    Returns:
        :class:`SplitSpec`.

    Raises:
        ConfigError: for a percentage over 100 or a missing directory.
    """
    text = str(value).strip()
    match = _PERCENT.match(text)
    if match:
        percent = float(match.group(1))
        if percent > 100:
            raise ConfigError(f"{option}: expected a percentage up to 100%, got {text}")
        return SplitSpec("percent", percent / 100.0)
    if _COUNT.match(text):
        return SplitSpec("count", int(text))
    path = (Path(project_dir) / text).resolve()
    if not path.is_dir() and _looks_numeric(text):
        raise ConfigError(f"{option}: expected a percentage (10%), a count (100) or a directory, "
                          f"got {text}")
    if not path.is_dir():
        raise ConfigError(f"{option}: no such directory: {text}",
                          hint=f"Set {option} to a percentage (10%), a count (100) or a directory.")
    return SplitSpec("dir", path)


def _looks_numeric(text):
    """Whether a split value was meant as a number (``-5``, ``nan``, ``1e3``, ``-5%``)."""
    try:
        float(text.rstrip("%"))
    except ValueError:
        return False
    return True


def assign_splits(items, val, test, seed, remembered=None):
    """The split of each sample: :func:`place_splits` without the records."""
    return place_splits(items, val, test, seed, remembered)[0]


def place_splits(items, val, test, seed, remembered=None):
    """Assign the samples of the samples directory to train, val and test.

    A split given as a directory takes nothing from here.

    Args:
        items: :class:`SplitItem` per sample (a plain relative path counts as
            an unlabeled item whose digest is the path).
        val: :class:`SplitSpec` for validation.
        test: :class:`SplitSpec` for test.
        seed: the random seed.
        remembered: ``{relpath: (digest, split)}`` of an earlier run with the
            same settings (None or empty: a fresh assignment).

    Returns:
        ``(splits, records)``: the split names, parallel to ``items``, and the
        records to remember: every item's, plus those of remembered images
        that are gone (so an image put back gets its split back).

    Raises:
        ConfigError: when counts ask for more samples than there are, nothing
            would be left for training, or the percentages add up to 100% or
            more (settings that do not fit the data: exit 2).
    """
    items = [SplitItem(x, x) if isinstance(x, str) else x for x in items]
    remembered = remembered or {}
    _check_sizes(len(items), val, test)
    inherited, used = _match(items, remembered)
    groups = defaultdict(list)
    for index, item in enumerate(items):
        groups[item.label].append(index)
    kept = {g: Counter(inherited[i] for i in idx) for g, idx in groups.items()}
    targets = _targets({g: len(idx) for g, idx in groups.items()}, val, test, kept)
    result = list(inherited)
    for group, indices in groups.items():
        order = sorted(indices, key=lambda i: (_rank(seed, items[i].digest), items[i].relpath))
        _fill(result, order, dict(zip(("val", "test"), targets[group])), kept[group])
    if items and "train" not in result:
        raise ConfigError("no samples left for training after the val and test splits",
                          hint="Lower val-split or test-split.")
    present = {item.relpath for item in items}
    records = {rel: rec for rel, rec in remembered.items() if rel not in used and rel not in present}
    records.update((item.relpath, (_short(item.digest), split)) for item, split in zip(items, result))
    return result, records


def _fill(result, order, targets, kept):
    """Place one class's new images (``None`` in ``result``) to reach ``targets``.

    New images go to val, then test, up to the targets; the rest to train. A
    split still short takes training images (never val or test ones), leaving
    at least one in train.
    """
    need = {name: max(0, targets[name] - kept[name]) for name in ("val", "test")}
    new = [i for i in order if result[i] is None]
    for name in ("val", "test"):
        taken, new = new[:need[name]], new[need[name]:]
        for index in taken:
            result[index] = name
        need[name] -= len(taken)
    for index in new:
        result[index] = "train"
    movable = [i for i in order if result[i] == "train"]
    for name in ("val", "test"):
        while need[name] > 0 and len(movable) > 1:
            result[movable.pop(0)] = name
            need[name] -= 1


def _match(items, remembered):
    """The remembered split of each item, or None for a new one.

    An item matches the record of its path when the content is the same;
    else a record with its content (the image was renamed or moved); else
    the record of its path (the image was edited in place).

    Returns:
        ``(splits, used)``: per item, and the relpaths of the records used.
    """
    inherited = [None] * len(items)
    used = set()
    if not remembered:
        return inherited, used
    digests = [_short(item.digest) for item in items]
    by_digest = defaultdict(list)
    for rel, (digest, _) in sorted(remembered.items()):
        by_digest[digest].append(rel)
    for index, item in enumerate(items):
        record = remembered.get(item.relpath)
        if record and record[0] == digests[index]:
            inherited[index] = record[1]
            used.add(item.relpath)
    for index in (i for i, split in enumerate(inherited) if split is None):
        free = [rel for rel in by_digest.get(digests[index], ()) if rel not in used]
        if free:
            inherited[index] = remembered[free[0]][1]
            used.add(free[0])
    for index in (i for i, split in enumerate(inherited) if split is None):
        rel = items[index].relpath
        if rel in remembered and rel not in used:
            inherited[index] = remembered[rel][1]
            used.add(rel)
    return inherited, used


def _targets(sizes, val, test, kept):
    """``{class: (val, test)}``: how many images of each class each split holds.

    Args:
        sizes: images per class.
        val, test: the :class:`SplitSpec` settings.
        kept: per class, a Counter of the remembered splits of its images (a
            count's share never drops below what a class already holds).
    """
    out = {g: [0, 0] for g in sizes}
    for k, spec in enumerate((val, test)):
        if spec.kind == "percent":
            for group, n in sizes.items():
                out[group][k] = _share(n, spec.value)
    for group, n in sizes.items():  # every class keeps a training image
        while out[group][0] + out[group][1] > max(n - 1, 0):
            out[group][1 if out[group][1] else 0] -= 1
    for k, (spec, name) in enumerate(((val, "val"), (test, "test"))):
        if spec.kind != "count":
            continue
        upper = {g: max(n - 1 - out[g][1 - k], 0) for g, n in sizes.items()}
        if sum(upper.values()) < spec.value:
            upper = {g: n - out[g][1 - k] for g, n in sizes.items()}
        lower = {g: min(kept[g][name], upper[g]) for g in sizes}
        for group, share in _apportion(spec.value, sizes, lower, upper).items():
            out[group][k] = share
    return {g: tuple(v) for g, v in out.items()}


def _share(n, fraction):
    """A percentage of ``n`` images, rounded to nearest (halves up), at least 1
    when ``n`` >= :data:`MIN_FOR_EVERY_SPLIT` and the percentage is not zero."""
    if not fraction or not n:
        return 0
    share = int(n * fraction + 0.5 + 1e-9)
    if n >= MIN_FOR_EVERY_SPLIT:
        share = max(share, 1)
    return min(share, n)


def _apportion(total, weights, lower, upper):
    """Share ``total`` out in proportion to ``weights`` (largest remainder),
    each share within ``[lower, upper]``; ties go to the first class by name."""
    fixed = {}
    while True:
        free = [g for g in weights if g not in fixed]
        rest = total - sum(fixed.values())
        weight = sum(weights[g] for g in free)
        bounded = {}
        for group in free:
            quota = rest * weights[group] / weight
            if quota < lower[group]:
                bounded[group] = lower[group]
            elif quota > upper[group]:
                bounded[group] = upper[group]
        if not bounded:
            break
        fixed.update(bounded)
    shares = {g: rest * weights[g] // weight for g in free}
    by_remainder = sorted(free, key=lambda g: (-(rest * weights[g] % weight), str(g)))
    left = rest - sum(shares.values())
    for group in by_remainder:
        if left <= 0:
            break
        if shares[group] < upper[group]:
            shares[group] += 1
            left -= 1
    return {**fixed, **shares}


def _rank(seed, digest):
    return hashlib.sha256(f"{seed}:{digest}".encode("utf-8")).hexdigest()


def _short(digest):
    return digest[:DIGEST_CHARS]


def _check_sizes(total, val, test):
    counts = sum(s.value for s in (val, test) if s.kind == "count")
    percents = sum(s.value for s in (val, test) if s.kind == "percent")
    if counts > total:  # a setting that cannot fit the data: a configuration error (exit 2)
        raise ConfigError(f"not enough samples for the val and test split: asked for {counts}, "
                          f"there are {total}",
                          hint="If you use counts for val-split or test-split, lower them.")
    if percents >= 1.0:
        raise ConfigError("val-split and test-split add up to 100% or more; nothing is left for training")


def report_duplicates(digests, splits, names=None):
    """Warn in one line when identical images (same content digest) sit in different
    splits, pointing at ``ml doctor``, which lists them (and near copies too).

    Args:
        digests: content digest per sample.
        splits: split name per sample (parallel).
        names: relative paths, for an example in the message.

    Returns:
        ``(groups, files)``: how many duplicate groups span more than one
        split, and how many files they hold.
    """
    by_digest = defaultdict(list)
    for index, digest in enumerate(digests):
        by_digest[digest].append(index)
    crossing = [idx for idx in by_digest.values() if len({splits[i] for i in idx}) > 1]
    if crossing:
        files = sum(len(idx) for idx in crossing)
        example = ""
        if names:
            first = crossing[0]
            example = " (e.g. " + " = ".join(f"{names[i]} [{splits[i]}]" for i in first[:3]) + ")"
        warn(f"{files} exact duplicate image(s) in {len(crossing)} group(s) appear in more than one "
             f"split, so validation/test scores may be optimistic{example}; "
             "ml doctor --kinds=leak lists them all")
        return len(crossing), files
    return 0, 0
