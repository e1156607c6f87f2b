"""The trainings folder: finding, loading and creating instance folders.

A new instance reserves its name with an exclusive ``mkdir``, so two runs
started at once never share a folder.
"""
import json
import os
import re
import time
from pathlib import Path

from vergeml import __version__, faults
from vergeml.console import warn
from vergeml.errors import UsageError, VergeMLError
from vergeml.fileutil import writing
from vergeml.fileutil import atomic_write_text
from vergeml.instances.instance import RESERVATION_FILE, RUNNING, Instance, utc_now_iso
from vergeml.instances.list_index import read_summaries
from vergeml.instances.liveness import hostname
from vergeml.instances.metadata import read_instance
from vergeml.instances.names import random_name
from vergeml.settings.spelling import stored_key
from vergeml.settings.suggest import suggestion

NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
# A new name may not start with '-' (it reads as an option: ml @-x, --name -x) and
# stays far below the 255 bytes a file name may have (an OSError, not a message).
NEW_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")
MAX_NAME_LENGTH = 100
SUBFOLDERS = ("checkpoints", "stats", "plots", "tensorboard")


# -- finding and loading -----------------------------------------------------------

def instance_dirs(trainings_dir):
    """Sorted instance folders: directories only, hidden entries skipped.

    Args:
        trainings_dir: the trainings folder (may not exist).

    Returns:
        list of :class:`~pathlib.Path`, empty when the folder is missing.
    """
    root = Path(trainings_dir)
    return [root / name for name in instance_names(trainings_dir)]


def instance_names(trainings_dir):
    """Sorted names of the instance folders (see :func:`instance_dirs`).

    Args:
        trainings_dir: the trainings folder (may not exist).

    Returns:
        list of str; sorting names orders the folders as sorting their paths does.
    """
    try:
        with os.scandir(trainings_dir) as entries:
            return sorted(e.name for e in entries if not e.name.startswith(".") and _is_dir(e))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _is_dir(entry):
    """Whether a scandir entry is a directory (False when it cannot be told)."""
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
    if summary:  # through the index: one stat per file instead of two reads per run
        instances = read_summaries(trainings_dir, instance_names(trainings_dir))
    else:
        instances = [read_instance(path) for path in instance_dirs(trainings_dir)]
    if warn:
        _warn_broken(instances)
    return instances


def _warn_broken(instances):
    """One warning per instance whose metadata could not be read.

    Args:
        instances: the :class:`Instance` objects just read.
    """
    for inst in instances:
        if inst.problem:
            warn(f"@{inst.name}: {inst.problem} (listed as broken)")


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
    if len(name) > MAX_NAME_LENGTH or not NAME_PATTERN.match(name) or not path.is_dir():
        known = [p.name for p in instance_dirs(trainings_dir)]
        raise UsageError(f"unknown instance @{name}.{suggestion(name, known, prefix='@')}",
                         hint="Run 'ml list' to see all instances.")
    instance = read_instance(path)
    if instance.problem:
        raise VergeMLError(f"instance @{name} is broken: {instance.problem}.")
    return instance


# -- creating ----------------------------------------------------------------------

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
    with writing(trainings_dir):  # read-only or full: one line naming the folder
        trainings_dir.mkdir(parents=True, exist_ok=True)
        path = _reserve(trainings_dir, name)
    faults.point("instance.reserved")
    instance = Instance(path, _initial_metadata(path.name, model, backbone, hyperparameters))
    try:
        instance.save()
        (path / RESERVATION_FILE).unlink(missing_ok=True)  # data.yaml says it all now
        with writing(path):
            for sub in SUBFOLDERS:
                (path / sub).mkdir(exist_ok=True)
    except BaseException:
        import shutil
        shutil.rmtree(path, ignore_errors=True)  # leave no broken folder behind
        raise
    return instance


def check_new_name(trainings_dir, name):
    """Raise the error :func:`create_instance` would for ``name`` (invalid or
    taken), so a run can fail before any long work. Creating stays the
    authoritative, atomic check.

    Args:
        trainings_dir: the trainings folder.
        name: the wanted instance name (no ``@``).

    Raises:
        UsageError: ``name`` is invalid or already taken.
    """
    if len(name) > MAX_NAME_LENGTH:
        raise UsageError(f"invalid instance name '{name[:20]}...': {len(name)} characters, "
                         f"at most {MAX_NAME_LENGTH}.")
    if not NEW_NAME_PATTERN.match(name):
        raise UsageError(f"invalid instance name '{name}': use only letters, digits, "
                         "'-' and '_', and do not start with '-'.")
    if (Path(trainings_dir) / name).exists():
        raise _name_taken(trainings_dir, name)


def check_writable(trainings_dir):
    """Raise the error :func:`create_instance` would for a trainings folder it
    cannot write (read-only, not permitted; a full disk shows at the first real
    write), so a run fails before a long extraction. Creates nothing: it probes the folder, or the nearest existing
    folder above it, with a temporary file removed at once.

    Args:
        trainings_dir: the trainings folder (may not exist yet).

    Raises:
        DiskError: the folder cannot be written.
    """
    import tempfile
    folder = Path(trainings_dir)
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    with writing(Path(trainings_dir)):
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)


def _name_taken(trainings_dir, name):
    """The error for a name that already has a folder."""
    return UsageError(f"instance @{name} already exists in {trainings_dir}.",
                      hint="Choose another --name or delete that folder.")


def _reserve(trainings_dir, name):
    """Create the instance folder exclusively (mkdir is atomic: no two runs
    can get the same name).

    Args:
        trainings_dir: the existing trainings folder.
        name: the wanted name, or None for a random robot name.

    Returns:
        The new, empty folder.

    Raises:
        UsageError: ``name`` is invalid or taken.
        VergeMLError: no free random name was found.
    """
    if name is not None:
        check_new_name(trainings_dir, name)
        path = trainings_dir / name
        try:
            path.mkdir()
        except FileExistsError:
            raise _name_taken(trainings_dir, name) from None
        return _claim(path)
    return _reserve_random(trainings_dir)


def _reserve_random(trainings_dir):
    """Create a folder with a free random robot name (see :func:`_reserve`)."""
    import random
    rng = random.Random()  # private, seeded from os.urandom: global RNG untouched
    for attempt in range(1000):
        candidate = random_name(rng)
        if attempt >= 20:  # name space nearly used up: add a number
            candidate = f"{candidate}-{attempt}"
        path = trainings_dir / candidate
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return _claim(path)
    raise VergeMLError(f"could not find a free instance name in {trainings_dir}.")


def _claim(path):
    """Write :data:`RESERVATION_FILE` into a just reserved folder, so a run killed
    before its ``data.yaml`` lists as ``crashed`` (see ``metadata._reservation``)."""
    claim = {"pid": os.getpid(), "host": hostname(), "created_at": time.time()}
    try:
        atomic_write_text(path / RESERVATION_FILE, json.dumps(claim))
    except BaseException:
        os.rmdir(path)  # nothing else is in it yet
        raise
    return path


def _initial_metadata(name, model, backbone, hyperparameters):
    """Metadata of a run that has just started (see :func:`create_instance`).

    Returns:
        dict in the order written to ``data.yaml``.
    """
    import platform
    return {
        "name": name,
        "model": model,
        "backbone": backbone,
        "status": RUNNING,
        "pid": os.getpid(),
        "host": hostname(),
        "error": None,
        "hyperparameters": {stored_key(k): v
                            for k, v in dict(hyperparameters or {}).items()},
        "results": {"created_at": time.time(), "training_start": utc_now_iso()},
        "versions": {"vergeml": __version__, "python": platform.python_version()},
    }
