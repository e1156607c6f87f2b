"""Training instances: the folders under ``trainings/<name>/`` and their metadata.

Each run lives in its own folder (layout in ``docs/architecture.md``) with a
small ``data.yaml`` holding status, hyperparameters and results. This module
only reads and writes that metadata; it never imports TensorFlow or Keras, so
``ml list`` stays fast.
"""
import datetime
import functools
import os
import platform
import random
import re
import shutil
import socket
import sys
import time
from pathlib import Path

import yaml

from vergeml import __version__
from vergeml.errors import UsageError, VergeMLError
from vergeml.fileutil import atomic_write_text
from vergeml.instances.names import random_name
from vergeml.suggest import suggestion
from vergeml import console

METADATA_FILE = "data.yaml"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
SUBFOLDERS = ("checkpoints", "stats", "plots", "tensorboard")

RUNNING, FINISHED, CANCELLED, FAILED = "running", "finished", "cancelled", "failed"
CRASHED, BROKEN = "crashed", "broken"  # derived: never stored
# Top-level metadata blocks ml list never shows: not parsed for summaries.
SUMMARY_SKIP = ("history", "data", "versions")
STORED_STATUSES = (RUNNING, FINISHED, CANCELLED, FAILED)
TERMINAL_STATUSES = (FINISHED, CANCELLED, FAILED)

# libyaml's loader is ~10x faster; ml list reads one file per run.
_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _MemoLoader(_BASE_LOADER):
    """Safe loader that memoizes the implicit type of plain scalars.

    Keys and most values repeat across runs, and resolving a scalar's type
    (regex matching) is a large share of parsing time.
    """

    _memo = {}

    def resolve(self, kind, value, implicit):
        if kind is not yaml.ScalarNode:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = self._memo.get(key)
        if tag is None:
            if len(self._memo) > 50_000:
                self._memo.clear()
            tag = self._memo[key] = super().resolve(kind, value, implicit)
        return tag


_LOADER = _MemoLoader

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def utc_now_iso():
    """Current time as ISO-8601 UTC text, e.g. ``2026-11-27T18:00:00+00:00``."""
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


@functools.lru_cache(maxsize=1)
def hostname():
    """This machine's host name (cached: stored in and compared with metadata)."""
    return socket.gethostname()


class Instance:
    """One training run: a folder and its metadata.

    Attributes:
        name: folder name, used as ``@name``.
        path: the instance folder.
        metadata: the parsed ``data.yaml`` (empty when broken).
        problem: why the metadata could not be read, or None.
    """

    def __init__(self, path, metadata=None, problem=None, partial=False):
        self.path = Path(path)
        self.name = self.path.name
        self.metadata = metadata if metadata is not None else {}
        self.problem = problem
        self.partial = partial  # summary read (no history): must not be saved

    def __repr__(self):
        return f"Instance({self.name!r}, status={self.status!r})"

    # -- paths ----------------------------------------------------------------

    @property
    def metadata_path(self):
        return self.path / METADATA_FILE

    @property
    def checkpoints_dir(self):
        return self.path / "checkpoints"

    @property
    def stats_dir(self):
        return self.path / "stats"

    @property
    def plots_dir(self):
        return self.path / "plots"

    @property
    def tensorboard_dir(self):
        return self.path / "tensorboard"

    @property
    def model_path(self):
        return self.checkpoints_dir / "model.keras"

    @property
    def top_weights_path(self):
        return self.checkpoints_dir / "top.weights.h5"

    @property
    def labels_path(self):
        return self.checkpoints_dir / "labels.txt"

    @property
    def predictions_path(self):
        return self.stats_dir / "test_predictions.npz"

    @property
    def history_path(self):
        return self.stats_dir / "history.csv"

    # -- metadata -------------------------------------------------------------

    @property
    def hyperparameters(self):
        """Hyperparameters as stored (underscore names); empty when absent."""
        return _mapping(self.metadata.get("hyperparameters"))

    @property
    def results(self):
        """Results as stored (underscore names); empty when absent."""
        return _mapping(self.metadata.get("results"))

    @property
    def status(self):
        """Effective status: the stored one, ``crashed`` for a dead running
        process on this host, or ``broken`` for unreadable metadata."""
        if self.problem:
            return BROKEN
        stored = self.metadata.get("status")
        if stored == RUNNING and not _process_alive(self.metadata.get("pid"),
                                                    self.metadata.get("host"),
                                                    self.results.get("created_at")):
            return CRASHED
        return stored

    def labels(self):
        """Class names in model output order, from ``checkpoints/labels.txt``.

        Raises:
            VergeMLError: when the file is missing (run cancelled or failed early).
        """
        try:
            text = self.labels_path.read_text(encoding="utf-8")
        except OSError:
            raise VergeMLError(f"instance @{self.name} has no labels file ({self.labels_path}).",
                               hint="The run probably stopped before saving a checkpoint; "
                                    "train again.") from None
        return [line.strip() for line in text.splitlines() if line.strip()]

    def save(self):
        """Write ``data.yaml`` atomically (a reader never sees half a file)."""
        if self.problem or self.partial:
            # Overwriting would destroy what is left of (or was not read from) the file.
            raise VergeMLError(f"refusing to overwrite the metadata of @{self.name}: "
                               f"{self.problem or 'read as a summary only'}")
        text = yaml.dump(_plain(self.metadata), Dumper=_DUMPER, sort_keys=False,
                         default_flow_style=False, allow_unicode=True)
        atomic_write_text(self.metadata_path, text)

    def update_results(self, save=True, **results):
        """Merge values into ``results`` and save.

        Args:
            save: write the file now (False to batch several updates).
            **results: e.g. ``epochs_done=3, val_acc=0.91``.
        """
        self.metadata.setdefault("results", {}).update(_plain(results))
        if save:
            self.save()

    def set_status(self, status, error=None):
        """Record a new status and save.

        A terminal status (finished, cancelled, failed) also records
        ``results.training_end`` and drops the pid.

        Args:
            status: one of running, finished, cancelled, failed.
            error: message to store (for failed runs).
        """
        if status not in STORED_STATUSES:
            raise ValueError(f"invalid status {status!r}")
        self.metadata["status"] = status
        self.metadata["error"] = error
        if status in TERMINAL_STATUSES:
            self.metadata.pop("pid", None)
            self.metadata.setdefault("results", {})["training_end"] = utc_now_iso()
        self.save()


def _mapping(value):
    return value if isinstance(value, dict) else {}


def _plain(value):
    """Convert to types YAML safe_dump accepts (NumPy scalars, tuples, paths)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item") and hasattr(value, "dtype"):  # numpy scalar, no import needed
        return _plain(value.item())
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    return str(value)


# -- process liveness ------------------------------------------------------------

def _process_alive(pid, host, created_at=None):
    """Whether the run's process may still be alive.

    Only a process on this host can be checked; on another host (shared
    trainings folder) the run is assumed alive.
    """
    if host and host != hostname():
        return True
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return True  # nothing to check: trust the stored status
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    except OSError:
        return True
    return not _zombie_or_reused(pid, created_at)


def _zombie_or_reused(pid, created_at):
    """On Linux: an unreaped zombie, or a pid reused by a process that
    started after the run was created. Anything unreadable counts as alive."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] in ("Z", "X"):
            return True
        if not isinstance(created_at, (int, float)):
            return False
        ticks = os.sysconf("SC_CLK_TCK")
        started = _boot_time() + int(fields[19]) / ticks
        return started > created_at + 5  # slack for clock granularity
    except (OSError, ValueError, IndexError):
        return False


@functools.lru_cache(maxsize=1)
def _boot_time():
    with open("/proc/stat", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("btime "):
                return int(line.split()[1])
    raise ValueError("no btime")


# -- reading ---------------------------------------------------------------------

def read_instance(path, skip=()):
    """Read one instance folder; problems give a ``broken`` Instance, not an error.

    Args:
        path: the instance folder.
        skip: top-level keys not to parse (``history``), for a fast summary;
            the Instance is then marked partial and cannot be saved.

    Returns:
        An :class:`Instance` (check ``.problem``).
    """
    path = Path(path)
    try:
        text = (path / METADATA_FILE).read_bytes()
    except FileNotFoundError:
        return Instance(path, problem=f"no {METADATA_FILE}")
    except OSError as err:
        return Instance(path, problem=f"cannot read {METADATA_FILE}: {err.strerror or err}")
    if skip:
        data, problem = _parse(_drop_top_level(text, skip))
        if not problem:
            return Instance(path, data, partial=True)
        # Odd layout: parse it all, for an exact verdict.
    data, problem = _parse(text)
    return Instance(path, data if not problem else None, problem)


def _parse(text):
    """``(metadata, None)`` or ``(None, problem)``."""
    try:
        data = _load_yaml(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        return None, f"invalid {METADATA_FILE}{where}"
    problem = _check_metadata(data)
    return (None, problem) if problem else (data, None)


_TAG = "tag:yaml.org,2002:"


def _load_yaml(text):
    """``yaml.safe_load`` with a faster construction step.

    PyYAML builds Python objects from the parsed nodes in pure Python, which
    is most of the cost of reading a run's metadata. Plain strings, numbers,
    nulls, mappings with string keys and lists are converted directly here;
    anything else (booleans, timestamps, merge keys) goes through the loader's
    own constructor, so the result is identical.
    """
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _construct(node, loader)
    finally:
        loader.dispose()


def _construct(node, loader):
    kind, tag = node.__class__, node.tag
    if kind is yaml.ScalarNode:
        if tag == _TAG + "str":
            return node.value
        if tag == _TAG + "null":
            return None
        if tag in (_TAG + "int", _TAG + "float"):
            try:
                return (int if tag == _TAG + "int" else float)(node.value)
            except ValueError:
                pass  # 0x1f, 017, .inf, 1:30: YAML's own rules
    elif kind is yaml.MappingNode and tag == _TAG + "map":
        if all(key.__class__ is yaml.ScalarNode and key.tag == _TAG + "str"
               for key, _ in node.value):
            return {key.value: _construct(value, loader) for key, value in node.value}
    elif kind is yaml.SequenceNode and tag == _TAG + "seq":
        return [_construct(item, loader) for item in node.value]
    return loader.construct_object(node, deep=True)


_NEXT_TOP_LEVEL = re.compile(rb"^[^\s#\-]", re.M)


@functools.lru_cache(maxsize=None)
def _top_level_key(key):
    return re.compile(rb"^" + re.escape(key.encode()) + rb":", re.M)


def _drop_top_level(text, keys):
    """Cut top-level blocks (``history: ...``) out of block-style YAML bytes.

    Parsing is the cost of ``ml list``; the per-epoch history is most of
    each file and is not shown.
    """
    for key in keys:
        match = _top_level_key(key).search(text)
        if match:
            end = _NEXT_TOP_LEVEL.search(text, match.end())
            text = text[:match.start()] + (text[end.start():] if end else b"")
    return text


def _check_metadata(data):
    """Minimal shape check: catches empty and truncated files."""
    if not isinstance(data, dict):
        return f"{METADATA_FILE} is empty or not a mapping"
    if data.get("status") not in STORED_STATUSES:
        return f"{METADATA_FILE} has no valid status"
    for key in ("hyperparameters", "results"):
        if key in data and not isinstance(data[key], (dict, type(None))):
            return f"{METADATA_FILE}: {key} is not a mapping"
    return None


def instance_dirs(trainings_dir):
    """Sorted instance folders: directories only, hidden entries skipped."""
    try:
        entries = list(os.scandir(trainings_dir))
    except (FileNotFoundError, NotADirectoryError):
        return []
    dirs = [e for e in entries if not e.name.startswith(".") and _is_dir(e)]
    return sorted(Path(e.path) for e in dirs)


def _is_dir(entry):
    try:
        return entry.is_dir()
    except OSError:
        return False


def scan_instances(trainings_dir, warn=True, summary=False):
    """Read every instance of a trainings folder.

    Args:
        trainings_dir: the trainings folder (may not exist).
        warn: print a one-line warning on stderr for each broken instance.
        summary: read only what ``ml list`` shows (no history, data or
            versions); the instances are then read-only.

    Returns:
        list of :class:`Instance`, sorted by name; broken ones included.
    """
    skip = SUMMARY_SKIP if summary else ()
    instances = [read_instance(path, skip=skip) for path in instance_dirs(trainings_dir)]
    if warn:
        for inst in instances:
            if inst.problem:
                console.warn(f"@{inst.name}: {inst.problem} (listed as broken)")
    return instances


def load_instance(trainings_dir, name):
    """Load the instance ``@name``.

    Args:
        trainings_dir: the trainings folder.
        name: instance name, with or without the leading ``@``.

    Returns:
        The :class:`Instance`.

    Raises:
        UsageError: unknown name (with did-you-mean) or no trainings folder.
        VergeMLError: the instance's metadata is unreadable.
    """
    name = name[1:] if name.startswith("@") else name
    trainings_dir = Path(trainings_dir)
    if not trainings_dir.is_dir():
        raise UsageError(f"unknown instance @{name}: no trainings folder at {trainings_dir}.",
                         hint="Run 'ml train' to create an instance.")
    path = trainings_dir / name
    if not NAME_PATTERN.match(name) or not path.is_dir():
        known = [p.name for p in instance_dirs(trainings_dir)]
        raise UsageError(f"unknown instance @{name}.{suggestion(name, known, prefix='@')}",
                         hint="Run 'ml list' to see all instances.")
    instance = read_instance(path)
    if instance.problem:
        raise VergeMLError(f"instance @{name} is broken: {instance.problem}.")
    return instance


# -- creating --------------------------------------------------------------------

def create_instance(trainings_dir, model, backbone, hyperparameters, name=None):
    """Create a new instance folder with status ``running``.

    Args:
        trainings_dir: the trainings folder (created if missing).
        model: model plugin name (``imagenet``).
        backbone: architecture shown by ``ml list`` (``mobilenet``).
        hyperparameters: resolved train options (any spelling; stored with
            underscores).
        name: ``--name``; a unique random robot name when None.

    Returns:
        The saved :class:`Instance`.

    Raises:
        UsageError: ``name`` is invalid or already taken.
    """
    trainings_dir = Path(trainings_dir)
    trainings_dir.mkdir(parents=True, exist_ok=True)
    path = _reserve(trainings_dir, name)
    instance = Instance(path, _initial_metadata(path.name, model, backbone, hyperparameters))
    try:
        instance.save()
        for sub in SUBFOLDERS:
            (path / sub).mkdir(exist_ok=True)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)  # leave no broken folder behind
        raise
    return instance


def check_new_name(trainings_dir, name):
    """Raise the error :func:`create_instance` would for ``name`` (invalid or
    taken), so a run can fail before any long work. Creating stays the
    authoritative, atomic check."""
    if not NAME_PATTERN.match(name):
        raise UsageError(f"invalid instance name '{name}': use only letters, digits, "
                         "'-' and '_'.")
    if (Path(trainings_dir) / name).exists():
        raise _name_taken(trainings_dir, name)


def _name_taken(trainings_dir, name):
    return UsageError(f"instance @{name} already exists in {trainings_dir}.",
                      hint="Choose another --name or delete that folder.")


def _reserve(trainings_dir, name):
    """Create the instance folder exclusively (mkdir is atomic: no two runs
    can get the same name)."""
    if name is not None:
        check_new_name(trainings_dir, name)
        path = trainings_dir / name
        try:
            path.mkdir()
        except FileExistsError:
            raise _name_taken(trainings_dir, name) from None
        return path
    rng = random.Random()  # private, seeded from os.urandom: global RNG untouched
    for attempt in range(1000):
        candidate = random_name(rng)
        if attempt >= 20:  # name space nearly used up: add a number
            candidate = f"{candidate}-{attempt}"
        path = trainings_dir / candidate
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise VergeMLError(f"could not find a free instance name in {trainings_dir}.")


def _initial_metadata(name, model, backbone, hyperparameters):
    return {
        "name": name,
        "model": model,
        "backbone": backbone,
        "status": RUNNING,
        "pid": os.getpid(),
        "host": hostname(),
        "error": None,
        "hyperparameters": {str(k).replace("-", "_"): v
                            for k, v in dict(hyperparameters or {}).items()},
        "results": {"created_at": time.time(), "training_start": utc_now_iso()},
        "versions": {"vergeml": __version__, "python": platform.python_version()},
    }
