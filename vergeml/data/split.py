"""Train/validation/test assignment.

``val-split`` and ``test-split`` are each a percentage (``10%``), a count
(``100``) or a directory (relative to the project directory) holding that
split's samples. Samples of the samples directory are assigned by a hash of
``(random seed, relative path)``, so adding or removing images never moves
the other images between splits, and the same seed always gives the same
split. Percentages hold approximately (each sample lands in a split with that
probability); counts take the samples with the lowest hash values.
"""
import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from vergeml.errors import ConfigError, VergeMLError
from vergeml.console import warn


SPLITS = ("train", "val", "test")
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_COUNT = re.compile(r"^\s*\d+\s*$")


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
    if not path.is_dir():
        raise ConfigError(f"{option}: no such directory: {text}",
                          hint=f"Set {option} to a percentage (10%), a count (100) or a directory.")
    return SplitSpec("dir", path)


def split_hash(relpath, seed, salt):
    """A uniform number in [0, 1) fixed by the sample's relative path and the seed."""
    digest = hashlib.sha256(f"{salt}:{seed}:{relpath}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def assign_splits(relpaths, val, test, seed):
    """Assign the samples of the samples directory to train, val and test.

    A split given as a directory takes nothing from here. Val is chosen
    first, then test from the rest, each with its own hash.

    Args:
        relpaths: relative posix paths of the samples.
        val: :class:`SplitSpec` for validation.
        test: :class:`SplitSpec` for test.
        seed: the random seed.

    Returns:
        list of split names, parallel to ``relpaths``.

    Raises:
        VergeMLError: when counts ask for more samples than there are, or
            nothing would be left for training.
    """
    total = len(relpaths)
    result = ["train"] * total
    _check_sizes(total, val, test)
    chosen_val = _choose(relpaths, range(total), val, seed, "val", 1.0)
    for index in chosen_val:
        result[index] = "val"
    rest = [i for i in range(total) if result[i] == "train"]
    # Rescale so a test percentage stays a share of all samples, not of the rest.
    taken = val.value if val.kind == "percent" else len(chosen_val) / max(total, 1)
    for index in _choose(relpaths, rest, test, seed, "test", max(1.0 - taken, 1e-9)):
        result[index] = "test"
    if total and "train" not in result:
        raise VergeMLError("no samples left for training after the val and test splits",
                           hint="Lower val-split or test-split.")
    return result


def _check_sizes(total, val, test):
    counts = sum(s.value for s in (val, test) if s.kind == "count")
    percents = sum(s.value for s in (val, test) if s.kind == "percent")
    if counts > total:
        raise VergeMLError(f"not enough samples for the val and test split: asked for {counts}, "
                           f"there are {total}",
                           hint="If you use counts for val-split or test-split, lower them.")
    if percents >= 1.0:
        raise ConfigError("val-split and test-split add up to 100% or more; nothing is left for training")


def _choose(relpaths, candidates, spec, seed, salt, remaining):
    if spec.kind == "dir":
        return []
    scored = [(split_hash(relpaths[i], seed, salt), i) for i in candidates]
    if spec.kind == "count":
        return [i for _, i in sorted(scored)[:spec.value]]
    threshold = min(spec.value / remaining, 1.0)
    return [i for score, i in scored if score < threshold]


def report_duplicates(digests, splits, names=None):
    """Warn when identical images (same content digest) sit in different splits.

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
             f"split, so validation/test scores may be optimistic{example}")
        return len(crossing), files
    return 0, 0
