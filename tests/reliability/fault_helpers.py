"""Shared by the fault tests: a small real project, ``ml`` stopped at a named
point (:mod:`vergeml.faults`), and the checks every fault must pass.

The project: 300 real scikit-learn digits as PNG (30 per class), MobileNet
alpha 0.25 with its real ImageNet weights at 64 px, a few epochs. One finished
reference run per session (:func:`reference`) gives the split and the feature
vectors an uninterrupted run produces; a test copies its samples (and, to skip
the extraction, its cache) into a project of its own.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from tests.conftest import default_signals, ml_command, run_ml_process, subprocess_env
from tests.e2e.conftest import digits_subset, instance_names, read_metadata

PER_CLASS = 30
TOTAL = 10 * PER_CLASS
EPOCHS = 3
ARGS = ("--architecture=mobilenet", "--alpha=0.25", "--size=64", f"--epochs={EPOCHS}",
        "--optimizer=adam", "--learning-rate=0.002", "--batch-size=32")
FINE_TUNE_EPOCHS = 2
FINE_TUNE = ("--fine-tune-epochs=%d" % FINE_TUNE_EPOCHS, "--fine-tune-layers=4")
FEATURE_DIM = 256  # MobileNet alpha 0.25, global average pooled
SPLITS_FILE = "vergeml.splits.json"
FAULT_VARIABLES = ("VERGEML_FAULT_POINT", "VERGEML_FAULT_ACTION", "VERGEML_FAULT_HIT",
                   "VERGEML_FAULT_FILE", "VERGEML_FAULT_TRACE")


@dataclass
class Reference:
    """An uninterrupted run: its project, instance, cache entries, split and test files."""

    project: Path
    name: str
    entries: dict
    splits: dict
    test_files: list
    data: dict
    trace: list


_REFERENCE = {}


def reference(tmp_path_factory, ml_env):
    """The session's finished reference run (made on first use, shared by every module).

    Args:
        tmp_path_factory: pytest's session factory (the folder outlives the module).
        ml_env: the e2e environment (offline weights).

    Returns:
        :class:`Reference`; tests must not change its project (copy it).
    """
    if "run" not in _REFERENCE:
        project = digits_subset(tmp_path_factory.mktemp("faults") / "reference", PER_CLASS)
        trace = project.parent / "reference.trace"
        result = run_ml(project, ml_env, "train", *ARGS, "--name=reference",
                        VERGEML_FAULT_TRACE=trace)
        assert result.returncode == 0, result.output[-3000:]
        meta = read_metadata(project, "reference")
        assert meta["status"] == "finished"
        _REFERENCE["run"] = Reference(project, "reference", cache_entries(project),
                                      json.loads((project / SPLITS_FILE).read_text()),
                                      split_test_files(project / "trainings" / "reference"), meta["data"],
                                      trace.read_text().split())
    return _REFERENCE["run"]


def copy_project(ref, target, cache=True):
    """``target`` with the reference's samples and ``vergeml.yaml``; with ``cache``
    also its feature cache and remembered split (a run then extracts nothing)."""
    target.mkdir(parents=True)
    shutil.copy(ref.project / "vergeml.yaml", target / "vergeml.yaml")
    shutil.copytree(ref.project / "samples", target / "samples")
    if cache:
        shutil.copytree(ref.project / ".cache", target / ".cache")
        shutil.copy(ref.project / SPLITS_FILE, target / SPLITS_FILE)
    return target


# -- running ml with a fault ----------------------------------------------------------

def fault_env(ml_env, point=None, action="kill", hit=1, **extra):
    """The environment of an ``ml`` run that acts at ``point`` (None: a normal run)."""
    env = dict(ml_env, **{name: None for name in FAULT_VARIABLES})
    if point is not None:
        env.update(VERGEML_FAULT_POINT=point, VERGEML_FAULT_ACTION=action, VERGEML_FAULT_HIT=hit)
    env.update(extra)
    return env


def run_ml(project, ml_env, *args, point=None, action="kill", hit=1, timeout=600, **extra):
    """Run ``ml *args`` in ``project`` to its end, stopped at ``point`` if given."""
    return run_ml_process(*args, cwd=project, env=fault_env(ml_env, point, action, hit, **extra),
                          timeout=timeout)


class Paused:
    """``ml`` in the background, paused at a fault point until :meth:`go` (or a signal).

    Output goes to files, so a paused child never blocks on a full pipe.
    """

    def __init__(self, project, ml_env, args, point, hit=1):
        self.flag = project.parent / f".{project.name}.paused"
        self.flag.unlink(missing_ok=True)  # an earlier run stopped while paused leaves it
        self.out_path, self.err_path = (project.parent / f".{project.name}.{n}" for n in ("out", "err"))
        env = fault_env(ml_env, point, "pause", hit, VERGEML_FAULT_FILE=self.flag)
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.proc = subprocess.Popen(ml_command() + list(args), cwd=project, stdout=out,
                                         stderr=err, env=subprocess_env(env),
                                         preexec_fn=default_signals)

    def wait(self, timeout=600):
        """Block until ``ml`` is paused at the point (it creates the flag file)."""
        import time
        deadline = time.monotonic() + timeout
        while not self.flag.exists():
            assert self.proc.poll() is None, f"ml ended before the point:\n{self.output()[-3000:]}"
            assert time.monotonic() < deadline, "ml did not reach the point in time"
            time.sleep(0.05)  # polling for an event, not timing the run
        return self

    def go(self):
        """Let ``ml`` continue past the point."""
        self.flag.unlink()

    def finish(self, timeout=300):
        """Wait for the end; the exit status."""
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def output(self):
        return self.out_path.read_text() + self.err_path.read_text()


# -- what a fault must leave ------------------------------------------------------------

def cache_entries(project):
    """stage -> {key: array} of every cache entry; each must decode to its stored shape."""
    path = project / ".cache" / "cache.db"
    if not path.exists():
        return {}
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = db.execute("SELECT stage, key, shape, dtype, data FROM entries").fetchall()
    entries = {}
    for stage, key, shape, dtype, data in rows:
        dims = tuple(int(d) for d in shape.split(",")) if shape else ()
        assert len(data) == int(np.prod(dims)) * np.dtype(dtype).itemsize, (stage, key, shape)
        array = np.frombuffer(data, dtype=np.dtype(dtype)).reshape(dims)
        assert np.isfinite(array).all(), (stage, key)
        entries.setdefault(stage, {})[key] = array
    return entries


def assert_cache_valid(project, ref):
    """Every entry readable and belonging to a sample of the project; every feature
    vector the one an uninterrupted run computed (no entry for an unfinished sample).

    Returns:
        the number of feature vectors in the cache.
    """
    entries = cache_entries(project)
    (features_stage,) = [s for s in ref.entries if s.startswith("features:")]
    expected = ref.entries[features_stage]
    for stage, table in entries.items():
        assert set(table) <= set(expected), f"{stage}: entries for keys of no sample"
        for key, array in table.items():
            if stage == features_stage:
                np.testing.assert_allclose(array, expected[key], rtol=1e-3, atol=1e-3, err_msg=key)
            else:  # decoded images (phase 2): uint8 at the training size
                assert array.shape == (64, 64, 3) and array.dtype == np.uint8, stage
    assert set(entries) <= {features_stage, "images:64:fill"}, sorted(entries)
    return len(entries.get(features_stage, {}))


def temp_files(folder):
    """Leftover temporary files or folders (``fileutil``'s ``.<name>.<random>.tmp...``,
    the export's ``.<format>.<pid>.<random>``) below ``folder``."""
    return sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob(".*")
                  if p.name not in (".index.marshal",))


def assert_files_whole(folder):
    """Every file under its final name in an instance folder is complete and loads."""
    import h5py
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        name = path.name
        if name.endswith((".yaml", ".yml")):
            assert isinstance(yaml.safe_load(path.read_text()), dict), path
        elif name.endswith(".json"):
            json.loads(path.read_text())
        elif name.endswith(".h5"):
            with h5py.File(path, "r") as handle:
                assert list(handle.keys()), path
        elif name.endswith(".keras"):
            with zipfile.ZipFile(path) as archive:
                assert archive.testzip() is None, path
        elif name == "ood.npz":  # the unknown score: a bank of unit rows and its k
            with np.load(path) as data:
                assert data["bank"].ndim == 2 and 1 <= int(data["k"]) <= len(data["bank"]), path
        elif name.endswith(".npz"):
            with np.load(path) as data:
                assert len(data["y_true"]) == len(data["y_prob"]) == len(data["files"]), path
        elif name.endswith((".csv", ".txt")):
            lines = path.read_text().splitlines()
            assert lines and path.read_text().endswith("\n"), path
            if name.endswith(".csv"):
                assert len({line.count(",") for line in lines}) == 1, path


def statuses(project, ml_env):
    """Instance name -> status as ``ml list`` shows it."""
    result = run_ml_process("list", "--output=json", cwd=project, env=ml_env)
    assert result.returncode == 0 and "Traceback" not in result.output, result.output
    return {row["instance"]: row["status"] for row in json.loads(result.stdout)}


def split_test_files(folder):
    """The test split's files of a finished run, sorted."""
    with np.load(Path(folder) / "stats" / "test_predictions.npz") as data:
        return sorted(str(f) for f in data["files"])


def assert_after_kill(project, ml_env, ref, result, instance):
    """What every kill -9 must leave: the run ``crashed`` (or no run when ``instance``
    is None), a valid cache, no half-written file under a final name.

    Returns:
        The killed run's name, or None.
    """
    assert result.returncode == -9, result.output[-3000:]
    names = instance_names(project)
    listed = statuses(project, ml_env)
    if instance is None:
        assert listed == {} and names == [], (names, listed)
    else:
        assert names == [instance] and listed == {instance: "crashed"}, (names, listed)
        folder = project / "trainings" / instance
        assert_files_whole(folder)
        assert len(temp_files(folder)) <= 1, temp_files(folder)  # at most the file being written
    assert_cache_valid(project, ref)
    return instance


def assert_next_train(project, ml_env, ref, *args):
    """A new ``ml train`` succeeds, on the same split as the reference run. Its name."""
    before = set(instance_names(project))
    result = run_ml(project, ml_env, "train", *ARGS, "--epochs=1", *args)
    assert result.returncode == 0 and "Traceback" not in result.output, result.output[-3000:]
    (name,) = set(instance_names(project)) - before
    meta = read_metadata(project, name)
    assert meta["status"] == "finished"
    assert {k: meta["data"][k] for k in ("num_train", "num_val", "num_test")} == \
        {k: ref.data[k] for k in ("num_train", "num_val", "num_test")}
    assert json.loads((project / SPLITS_FILE).read_text()) == ref.splits
    assert split_test_files(project / "trainings" / name) == ref.test_files
    assert assert_cache_valid(project, ref) == TOTAL
    return name


def assert_resumes(project, ml_env, name, epochs=EPOCHS):
    """``ml @name resume`` finishes the killed run with its full history of ``epochs``."""
    result = run_ml(project, ml_env, f"@{name}", "resume")
    assert result.returncode == 0 and "Traceback" not in result.output, result.output[-3000:]
    meta = read_metadata(project, name)
    assert meta["status"] == "finished" and meta["error"] is None
    assert [row["epoch"] for row in meta["history"]] == list(range(1, epochs + 1))
    assert meta["results"]["epochs_done"] == epochs and "test_acc" in meta["results"]
    folder = project / "trainings" / name
    assert temp_files(folder / "checkpoints") == []
    assert_files_whole(folder)
    return meta


def trace_of(path):
    """The points a traced run reached, in order."""
    return Path(path).read_text().split() if os.path.exists(path) else []
