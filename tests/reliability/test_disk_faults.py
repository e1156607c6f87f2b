"""Disk full and read-only trainings or cache folders (issue 16, "Faults").

Each fault is a real file system mounted by the test (a tmpfs of a few KB,
possibly read-only; see ``disk_helpers``), not a mock. Expected every time:
one ``Error:`` line naming the folder, exit 1, no traceback, no temporary or
half-written file, and a cache that the next run, given space, reads back
entry by entry (compared with the features of a run on a normal disk).
"""
import os
import re
import shutil
import subprocess
import time

import numpy as np
import pytest
import yaml

from tests.conftest import default_signals, ml_command, run_ml_process, subprocess_env
from tests.e2e.conftest import digits_subset, instance_names, read_metadata, train
from tests.reliability import disk_helpers as disk

pytestmark = pytest.mark.e2e

ARGS = ("--architecture=mobilenet", "--alpha=0.25", "--size=64", "--epochs=2",
        "--optimizer=adam", "--learning-rate=0.002", "--batch-size=32")
PER_CLASS = 30              # 300 images: more than one cache flush (256 entries)
FLUSH = 256                 # vergeml.data.cache.FLUSH_COUNT
CACHE_LINE = re.compile(r"cache: ([\d,]+) hit, ([\d,]+) new")
FEATURES_YAML = """model: imagenet
data:
  output:
    type: labeled-image-features
    architecture: mobilenet
    alpha: 0.25
    size: 64
"""


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """300 real digits (samples and vergeml.yaml); tests copy it, never change it."""
    return digits_subset(tmp_path_factory.mktemp("disk") / "digits", PER_CLASS)


@pytest.fixture
def project(digits, tmp_path):
    """A fresh copy of the digits project: no cache, no trainings."""
    target = tmp_path / "proj"
    target.mkdir()
    shutil.copy(digits / "vergeml.yaml", target / "vergeml.yaml")
    shutil.copytree(digits / "samples", target / "samples")
    return target


@pytest.fixture(scope="module")
def reference_features(digits, tmp_path_factory, ml_env):
    """Feature vectors of every digit extracted on a normal disk: ``{key: vector}``."""
    ref = tmp_path_factory.mktemp("reference")
    shutil.copytree(digits / "samples", ref / "samples")
    (ref / "vergeml.yaml").write_text(FEATURES_YAML)
    result = run_ml_process("preprocess", cwd=ref, env=ml_env, timeout=300)
    assert result.returncode == 0, result.output[-3000:]
    return disk.cache_entries(ref / ".cache")


def assert_disk_error(result, reason, folder):
    """Exit 1 with one ``Error:`` line: ``<reason> writing <folder>``, no traceback."""
    assert result.returncode == 1, result.output[-3000:]
    assert "Traceback" not in result.output and "looks like a bug" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: {reason} writing {folder}"], result.stderr[-3000:]


def cache_counts(stdout):
    """``(hit, new)`` of the run's ``cache:`` line."""
    found = CACHE_LINE.search(stdout)
    assert found, stdout
    return tuple(int(n.replace(",", "")) for n in found.groups())


def assert_same_features(entries, reference):
    """Every cached vector equals the normal disk's vector of the same sample."""
    assert entries and set(entries) <= set(reference)
    for key, vector in entries.items():
        np.testing.assert_allclose(vector, reference[key], rtol=1e-4, atol=1e-4)


# -- fast: no TensorFlow -------------------------------------------------------------

def test_atomic_write_on_a_full_or_read_only_disk_is_one_line_and_leaves_the_old_file(tmp_path):
    from vergeml.fileutil import DiskError, atomic_write_bytes
    from vergeml.errors import VergeMLError
    disk.require_mount()
    with disk.tmpfs(tmp_path / "small", "64k") as folder:
        target = folder / "data.yaml"
        atomic_write_bytes(target, b"old\n")
        with pytest.raises(DiskError) as caught:
            atomic_write_bytes(target, b"x" * 200_000)
        assert isinstance(caught.value, VergeMLError) and isinstance(caught.value, OSError)
        assert caught.value.errno == 28
        assert str(caught.value) == f"no space left on device writing {folder}"
        assert target.read_bytes() == b"old\n"         # the old file, whole
        assert disk.stray_files(folder) == []           # the half-written temp file is gone
        disk.remount(folder, "ro")
        with pytest.raises(DiskError, match=f"^read-only file system writing {re.escape(str(folder))}$"):
            atomic_write_bytes(target, b"new\n")
        assert target.read_bytes() == b"old\n"


def test_space_and_write_probes_fail_before_writing_anything(tmp_path):
    from vergeml.fileutil import DiskError, require_space
    from vergeml.instances.folders import check_writable
    disk.require_mount()
    with disk.tmpfs(tmp_path / "small", "64k") as folder:
        require_space(folder, 32_000)
        with pytest.raises(DiskError, match="^no space left on device writing "):
            require_space(folder, 100_000)      # what HDF5 needs checked: it crashes on ENOSPC
        check_writable(folder / "trainings")    # writable: passes, creates nothing
        assert list(folder.iterdir()) == []
        disk.remount(folder, "ro")
        with pytest.raises(DiskError, match=f"^read-only file system writing {re.escape(str(folder))}/trainings$"):
            check_writable(folder / "trainings")


def test_read_only_cache_folder_stops_before_any_work(project, ml_env):
    with disk.read_only_folder(project / ".cache") as cache:
        result = run_ml_process("train", *ARGS, cwd=project, env=ml_env)
        reason = "read-only file system" if disk.is_root() else "permission denied"
        assert_disk_error(result, reason, cache)
        assert list(cache.iterdir()) == []
    assert instance_names(project) == []
    # The same project with a writable cache folder is fine (images output: no TensorFlow).
    result = run_ml_process("preprocess", cwd=project, env=ml_env)
    assert result.returncode == 0, result.output[-2000:]


def test_full_cache_folder_at_the_start_leaves_a_valid_database(project, ml_env):
    disk.require_mount()
    with disk.tmpfs(project / ".cache", "40k") as cache:
        result = run_ml_process("train", *ARGS, cwd=project, env=ml_env)
        assert_disk_error(result, "no space left on device", cache)
        assert disk.stray_files(cache) == []
        assert instance_names(project) == []
        assert disk.checked_rows(cache, "files") == 0   # rolled back whole: nothing half written
        # Given space (the same tmpfs, grown), the next run uses the same database.
        disk.remount(cache, "size=2m")
        result = run_ml_process("preprocess", cwd=project, env=ml_env)
        assert result.returncode == 0, result.output[-2000:]
        assert disk.checked_rows(cache, "files") == 10 * PER_CLASS


# -- slow: TensorFlow runs ----------------------------------------------------------

@pytest.mark.slow
def test_read_only_trainings_folder_fails_before_extraction_and_the_next_run_works(
        project, ml_env, reference_features):
    with disk.read_only_folder(project / "trainings") as trainings:
        result = run_ml_process("train", *ARGS, cwd=project, env=ml_env, timeout=300)
        reason = "read-only file system" if disk.is_root() else "permission denied"
        assert_disk_error(result, reason, trainings)
        assert list(trainings.iterdir()) == []
    # The folder is probed before TensorFlow loads: nothing was extracted in vain.
    assert disk.cache_entries(project / ".cache") == {}
    result, name = train(project, ml_env, *ARGS, timeout=300)
    assert result.returncode == 0, result.output[-3000:]
    assert cache_counts(result.stdout) == (0, 10 * PER_CLASS)
    assert_same_features(disk.cache_entries(project / ".cache"), reference_features)
    assert read_metadata(project, name)["status"] == "finished"


@pytest.mark.slow
@pytest.mark.parametrize("size, where", [
    ("12k", "instance"),        # data.yaml of the new run: the instance folder
    ("1m", "checkpoints"),      # the final model.keras (1.2 MB) of a trained run
])
def test_full_trainings_folder_fails_in_one_line_without_partial_files(project, ml_env, size, where):
    disk.require_mount()
    with disk.tmpfs(project / "trainings", size) as trainings:
        result = run_ml_process("train", *ARGS, cwd=project, env=ml_env, timeout=300)
        names = instance_names(project)
        assert len(names) == 1, result.output[-3000:]
        folder = trainings / names[0] / ("checkpoints" if where == "checkpoints" else "")
        assert_disk_error(result, "no space left on device", str(folder).rstrip("/"))
        assert disk.stray_files(trainings) == []
        meta = read_metadata(project, names[0])        # whole YAML, never half a file
        if where == "checkpoints":
            # Space was left for data.yaml: the run says why it failed.
            assert meta["status"] == "failed"
            assert meta["error"] == f"DiskError: no space left on device writing {folder}"
            assert not (folder / "model.keras").exists()
        listing = run_ml_process("list", "--format=json", cwd=project, env=ml_env)
        assert listing.returncode == 0, listing.output
        assert "Traceback" not in listing.output
    assert len(disk.cache_entries(project / ".cache")) == 10 * PER_CLASS


def paused_train(project, ml_env, point, hit, flag):
    """Start ``ml train`` that pauses at fault ``point`` (its ``hit``-th time); wait for it.

    Returns:
        the :class:`subprocess.Popen`.
    """
    env = subprocess_env({**ml_env, "VERGEML_FAULT_POINT": point, "VERGEML_FAULT_HIT": hit,
                          "VERGEML_FAULT_ACTION": "pause", "VERGEML_FAULT_FILE": flag})
    proc = subprocess.Popen(ml_command() + ["train", *ARGS], cwd=project, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=default_signals)
    deadline = time.monotonic() + 240
    while not os.path.exists(flag):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"ml never reached {point}: {(out + err)[-3000:]}")
        time.sleep(0.05)
    return proc


def resume(proc, flag, timeout=240):
    """Let a paused run go on; return its ``MLResult``-like ``(returncode, stdout, stderr)``."""
    from tests.conftest import MLResult
    os.unlink(flag)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return MLResult(proc.returncode, out, err)


@pytest.mark.slow
def test_cache_disk_full_mid_extraction_keeps_every_committed_entry(project, ml_env, reference_features,
                                                                     tmp_path):
    disk.require_mount()
    flag = str(tmp_path / "paused")
    with disk.tmpfs(project / ".cache", "2m") as cache:
        # After the 4th batch of 64 the first 256 vectors are committed; then the disk fills.
        proc = paused_train(project, ml_env, "extraction.batch", FLUSH // 64, flag)
        assert len(disk.cache_entries(cache)) == FLUSH
        disk.fill(cache)
        result = resume(proc, flag)
        assert_disk_error(result, "no space left on device", cache)
        assert instance_names(project) == []
        disk.unfill(cache)
        assert disk.stray_files(cache) == []
        entries = disk.cache_entries(cache)            # the committed batch, whole
        assert len(entries) == FLUSH
        assert_same_features(entries, reference_features)
        # Given space, the next run reads every entry back and extracts only the rest.
        result, name = train(project, ml_env, *ARGS, timeout=300)
        assert result.returncode == 0, result.output[-3000:]
        assert cache_counts(result.stdout) == (FLUSH, 10 * PER_CLASS - FLUSH)
        assert read_metadata(project, name)["status"] == "finished"
        entries = disk.cache_entries(cache)
        assert len(entries) == 10 * PER_CLASS
        assert_same_features(entries, reference_features)


@pytest.mark.slow
def test_disk_full_at_an_epoch_checkpoint_fails_in_one_line(project, ml_env, tmp_path):
    disk.require_mount()
    flag = str(tmp_path / "paused")
    with disk.tmpfs(project / "trainings", "1m") as trainings:
        proc = paused_train(project, ml_env, "top.batch", 1, flag)
        disk.fill(trainings, leave=16_384)   # room for data.yaml and state.json, not for a 48 KB .h5
        result = resume(proc, flag)
        name = instance_names(project)[0]
        disk.unfill(trainings)
        assert result.returncode == 1, f"exit {result.returncode}: {result.output[-2000:]}"
        assert_disk_error(result, "no space left on device", trainings / name / "checkpoints")
        assert disk.stray_files(trainings) == []
        assert yaml.safe_load((trainings / name / "data.yaml").read_text())["name"] == name


@pytest.mark.slow
def test_atomic_save_weights_refuses_a_full_disk_before_hdf5_writes(tmp_path):
    import keras
    from vergeml.fileutil import DiskError, atomic_save_weights
    disk.require_mount()
    model = keras.Sequential([keras.Input((256,)), keras.layers.Dense(64), keras.layers.Dense(10)])
    with disk.tmpfs(tmp_path / "small", "64k") as folder:    # the weights need ~75 KB
        with pytest.raises(DiskError, match=f"^no space left on device writing {re.escape(str(folder))}$"):
            atomic_save_weights(model, folder / "top.weights.h5")
        assert list(folder.iterdir()) == []
    with disk.tmpfs(tmp_path / "roomy", "1m") as folder:
        atomic_save_weights(model, folder / "top.weights.h5")
        assert [p.name for p in folder.iterdir()] == ["top.weights.h5"]
