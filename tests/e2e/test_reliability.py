"""End-to-end: nothing is lost or corrupted on Ctrl-C, a crash or bad input.

Every test runs the real ``ml train`` in a subprocess on a small real
project (300 scikit-learn digits, 30 per class, written as PNG files) with
MobileNet alpha 0.25 and its real ImageNet weights at a small input size.
"""
import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import threading
import time

import pytest
import yaml

from tests.conftest import default_signals, ml_command, run_ml_process, subprocess_env
from tests.e2e.conftest import digits_subset, instance_names, read_metadata, train

pytestmark = pytest.mark.e2e

PER_CLASS = 30
TOTAL = 10 * PER_CLASS
ARGS = ("--architecture=mobilenet", "--alpha=0.25", "--size=64", "--epochs=2",
        "--optimizer=adam", "--learning-rate=0.002", "--batch-size=32")
ENDLESS = tuple(a for a in ARGS if not a.startswith("--epochs")) + ("--epochs=100000",
                                                                   "--early-stopping-patience=0")
FEATURE_DIM = 256  # MobileNet alpha 0.25, global average pooled
CACHE_LINE = re.compile(r"cache: ([\d,]+) hit, ([\d,]+) new, ([\d,]+) stale")


# -- the project -------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_project(tmp_path_factory):
    """A project of 300 real digits; tests may add instances but not change samples."""
    return digits_subset(tmp_path_factory.mktemp("reliability") / "digits", PER_CLASS)


@pytest.fixture(scope="module")
def baseline(small_project, ml_env):
    """One finished run in the small project: ``(project, name)``."""
    result, name = train(small_project, ml_env, *ARGS, "--name=baseline", timeout=300)
    assert result.returncode == 0, result.output[-3000:]
    assert name == "baseline"
    assert read_metadata(small_project, name)["status"] == "finished"
    return small_project, name


def copy_project(source, target):
    """The samples and vergeml.yaml of a project, without cache or trainings."""
    target.mkdir(parents=True)
    shutil.copy(source / "vergeml.yaml", target / "vergeml.yaml")
    shutil.copytree(source / "samples", target / "samples")
    return target


def cache_counts(output):
    """``(hit, new, stale)`` from the cache summary line of a run."""
    found = CACHE_LINE.findall(output)
    assert len(found) == 1, output[-3000:]
    return tuple(int(n.replace(",", "")) for n in found[0])


def assert_clean_failure(result, code, *expected):
    """Exit ``code``, a one-line ``Error:`` naming everything expected, no traceback."""
    assert result.returncode == code, result.output[-3000:]
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    for text in expected:
        assert text in errors[0], (text, errors[0])
    assert "Training @" not in result.stdout and "Epoch 1" not in result.output


def snapshot(folder):
    """Relative path -> (mtime_ns, sha256) of every file below ``folder``."""
    return {p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns,
                                              hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def temp_files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.tmp*"))


def list_statuses(project, ml_env):
    """Instance name -> status as ``ml list`` shows it."""
    result = run_ml_process("list", "--output=json", cwd=project, env=ml_env)
    assert result.returncode == 0 and "Traceback" not in result.output, result.output
    return {row["instance"]: row["status"] for row in json.loads(result.stdout)}


# -- running ml train in the background ---------------------------------------------------

class Background:
    """``ml train`` as a child process whose stderr is collected as it arrives."""

    def __init__(self, project, ml_env, *args):
        self.proc = subprocess.Popen(ml_command() + ["train", *args], cwd=project,
                                     env=subprocess_env(ml_env), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, preexec_fn=default_signals)
        self._err = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for chunk in iter(lambda: os.read(self.proc.stderr.fileno(), 4096), b""):
            self._err.append(chunk.decode("utf-8", "replace"))

    @property
    def stderr(self):
        return "".join(self._err)

    def alive(self):
        assert self.proc.poll() is None, f"ml train ended early:\n{self.finish()[1][-3000:]}"

    def finish(self, timeout=120):
        """Wait for the end; returns ``(stdout, stderr)``."""
        out = self.proc.stdout.read().decode("utf-8", "replace")
        self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return out, self.stderr

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def wait_for_epochs(project, before, run, epochs, timeout=120):
    """Poll the new instance's data.yaml until ``epochs_done >= epochs``; its name.

    Every read must parse: data.yaml is only ever replaced atomically.
    """
    deadline = time.time() + timeout
    while time.time() < deadline:
        run.alive()
        new = sorted(set(instance_names(project)) - before)
        if new:
            assert len(new) == 1, new
            path = project / "trainings" / new[0] / "data.yaml"
            if path.exists():
                meta = yaml.safe_load(path.read_text())
                assert isinstance(meta, dict) and meta["status"] == "running", meta
                if (meta["results"].get("epochs_done") or 0) >= epochs:
                    return new[0]
        time.sleep(0.05)
    raise AssertionError(f"no instance reached epoch {epochs} in {timeout}s:\n{run.stderr[-2000:]}")


def load_checkpoints(folder):
    """Load top.weights.h5 and model.keras; check they hold the same top."""
    import keras
    import numpy as np
    from vergeml.models.imagenet.training.head import build_top
    top = build_top(FEATURE_DIM, 10, 1, 0.0, 0)
    top.load_weights(folder / "checkpoints" / "top.weights.h5")
    model = keras.saving.load_model(folder / "checkpoints" / "model.keras")
    assert model.input_shape == (None, 64, 64, 3) and model.output_shape == (None, 10)
    saved_top = model.get_layer("top")
    for saved, best in zip(saved_top.get_weights(), top.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, best)
    probabilities = model.predict(np.zeros((2, 64, 64, 3), "float32"), verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


# -- 1. corrupt images --------------------------------------------------------------

def test_corrupt_images_stop_before_training_or_are_skipped(small_project, ml_env, tmp_path):
    import numpy as np
    from PIL import Image
    project = copy_project(small_project, tmp_path / "corrupt")
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(project / "samples/3/photo.jpg", quality=95)
    data = (project / "samples/3/photo.jpg").read_bytes()
    (project / "samples/3/photo.jpg").write_bytes(data[:len(data) // 2])
    (project / "samples/7/notes.jpg").write_text("not an image, just text\n")

    result = run_ml_process("train", *ARGS, cwd=project, env=ml_env)
    assert_clean_failure(result, 1, "3/photo.jpg", "truncated", "7/notes.jpg", "not an image")
    assert "--skip-bad-files" in result.stderr
    assert not (project / "trainings").exists() or not instance_names(project)

    result, name = train(project, ml_env, *ARGS, "--skip-bad-files", timeout=300)
    assert result.returncode == 0, result.output[-3000:]
    assert "Traceback" not in result.output
    warning = next(line for line in result.stderr.splitlines() if "skipping" in line)
    assert "2 unreadable" in warning and "3/photo.jpg" in warning and "7/notes.jpg" in warning
    meta = read_metadata(project, name)
    assert meta["status"] == "finished"
    assert sum(meta["data"][f"num_{s}"] for s in ("train", "val", "test")) == TOTAL
    assert cache_counts(result.stdout) == (0, TOTAL, 0)


# -- 2. missing, empty and one-class sample folders --------------------------------------

def test_bad_sample_folders_give_one_line_errors(small_project, ml_env, tmp_path):
    project = tmp_path / "folders"
    project.mkdir()
    (project / "vergeml.yaml").write_text("model: imagenet\n")
    samples = project / "samples"

    def attempt(*expected):
        result = run_ml_process("train", *ARGS, cwd=project, env=ml_env)
        assert_clean_failure(result, 1, *expected)
        assert not (project / "trainings").exists()

    attempt("samples directory not found", str(samples))        # no samples dir
    samples.mkdir()
    attempt("no labels found", str(samples))                    # nothing at all
    shutil.copytree(small_project / "samples/1", samples / "one")
    attempt("only one class", "one")                            # a single class
    (samples / "two").mkdir()
    (samples / "two" / "readme.txt").write_text("no images here\n")
    attempt("no images in class folder", "two")                 # an empty class folder
    (samples / "two" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    result = run_ml_process("train", *ARGS, "--skip-bad-files", cwd=project, env=ml_env)
    assert_clean_failure(result, 1, "no readable images left", "two")  # all of a class bad
    assert "two/broken.png" in result.stderr                    # the skip warning names it


# -- 3. Ctrl-C (or SIGTERM) while extracting features -----------------------------------

def feature_rows(project):
    """Feature vectors stored in a project's cache database (checked for integrity)."""
    with sqlite3.connect(project / ".cache" / "cache.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return db.execute("SELECT COUNT(*) FROM entries WHERE stage LIKE 'features:%'").fetchone()[0]


@pytest.mark.parametrize("signum", [pytest.param(signal.SIGINT, marks=pytest.mark.slow),
                                    signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_extraction_keeps_the_features_done(small_project, ml_env, tmp_path, signum):
    """A signal in the middle of extraction: no instance, the features extracted
    so far are committed to the cache and the next run reuses them (448 px
    makes extraction slow enough to interrupt)."""
    project = copy_project(small_project, tmp_path / "interrupted")
    args = [a for a in ARGS if not a.startswith(("--size", "--epochs"))] + ["--size=448",
                                                                            "--epochs=1"]
    run = Background(project, ml_env, *args)
    try:
        deadline = time.time() + 120
        while True:
            run.alive()
            done = re.findall(r"Extracting features:[^\r\n]*?\|\s*(\d+)/(\d+)", run.stderr)
            if done and int(done[-1][0]) >= 64:
                break
            assert time.time() < deadline, run.stderr[-2000:]
            time.sleep(0.05)
        assert int(done[-1][0]) < TOTAL, "extraction finished before it could be interrupted"
        run.proc.send_signal(signum)
        out, err = run.finish()
    finally:
        run.kill()
    code, said = (130, "Interrupted.") if signum == signal.SIGINT else (143, "Terminated.")
    assert run.proc.returncode == code, (run.proc.returncode, err[-3000:])
    assert "Traceback" not in err and said in err
    assert "Training @" not in out
    assert not (project / "trainings").exists() or not instance_names(project)
    kept = feature_rows(project)
    assert 64 <= kept < TOTAL, kept
    if signum == signal.SIGTERM:
        return  # the re-run below is the same for both signals

    result, name = train(project, ml_env, *args, timeout=300)
    assert result.returncode == 0, result.output[-3000:]
    assert cache_counts(result.stdout) == (kept, TOTAL - kept, 0)
    assert read_metadata(project, name)["status"] == "finished"
    assert feature_rows(project) == TOTAL


# -- 4. SIGTERM while training ------------------------------------------------------------

@pytest.mark.slow
def test_sigterm_during_training_cancels_with_loadable_checkpoints(baseline, ml_env):
    project, _ = baseline
    before = set(instance_names(project))
    run = Background(project, ml_env, *ENDLESS)
    try:
        name = wait_for_epochs(project, before, run, epochs=1)
        run.proc.send_signal(signal.SIGTERM)
        out, err = run.finish()
    finally:
        run.kill()
    assert run.proc.returncode == 143, (run.proc.returncode, err[-3000:])  # 128 + SIGTERM
    assert "Traceback" not in err and "Cancelled" in err, err[-3000:]
    meta = read_metadata(project, name)
    assert meta["status"] == "cancelled" and meta["error"] is None
    assert "pid" not in meta and meta["results"]["training_end"]
    done = meta["results"]["epochs_done"]
    assert done >= 1 and len(meta["history"]) == done
    assert 1 <= meta["results"]["best_epoch"] <= done
    assert "test_acc" not in meta["results"]
    folder = project / "trainings" / name
    assert temp_files(folder) == []
    assert (folder / "checkpoints/labels.txt").read_text().split() == [str(d) for d in range(10)]
    load_checkpoints(folder)
    assert list_statuses(project, ml_env)[name] == "cancelled"


# -- 5. SIGKILL while training ------------------------------------------------------------

def test_sigkill_during_training_shows_crashed_and_leaves_others_alone(baseline, ml_env):
    project, baseline_name = baseline
    statuses = list_statuses(project, ml_env)
    others = {name: snapshot(project / "trainings" / name) for name in statuses}
    before = set(instance_names(project))
    run = Background(project, ml_env, *ENDLESS)
    try:
        name = wait_for_epochs(project, before, run, epochs=2)
        run.proc.send_signal(signal.SIGKILL)
        run.finish()
    finally:
        run.kill()
    assert run.proc.returncode == -signal.SIGKILL
    folder = project / "trainings" / name
    meta = read_metadata(project, name)            # still parses
    assert meta["status"] == "running" and meta["pid"] == run.proc.pid
    assert meta["results"]["epochs_done"] >= 2
    assert len(temp_files(folder)) <= 1, temp_files(folder)
    assert (folder / "checkpoints/top.weights.h5").is_file()
    after = list_statuses(project, ml_env)
    assert after[name] == "crashed"
    assert after[baseline_name] == "finished"
    assert {n: s for n, s in after.items() if n != name} == statuses
    for other, files in others.items():
        assert snapshot(project / "trainings" / other) == files, other


# -- 6. two runs at once ----------------------------------------------------------------------

@pytest.mark.slow
def test_two_simultaneous_runs_share_the_cache_safely(small_project, ml_env, tmp_path):
    project = copy_project(small_project, tmp_path / "concurrent")
    runs = [Background(project, ml_env, *ARGS) for _ in range(2)]
    try:
        outputs = [run.finish(timeout=300) for run in runs]
    finally:
        for run in runs:
            run.kill()
    for run, (out, err) in zip(runs, outputs):
        assert run.proc.returncode == 0, err[-3000:]
        assert "Traceback" not in err
        hit, new, stale = cache_counts(out)
        assert hit + new == TOTAL and stale == 0
    names = instance_names(project)
    assert len(names) == 2
    for name in names:
        assert read_metadata(project, name)["status"] == "finished"
    with sqlite3.connect(project / ".cache" / "cache.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    result, name = train(project, ml_env, *ARGS, "--epochs=1", timeout=300)
    assert result.returncode == 0, result.output[-3000:]
    assert cache_counts(result.stdout) == (TOTAL, 0, 0)
    assert "Extracting features" not in result.stderr


# -- 7. --name clash ----------------------------------------------------------------------------

def test_name_clash_is_a_usage_error_and_leaves_the_instance_alone(baseline, ml_env):
    project, name = baseline
    folder = project / "trainings" / name
    before = snapshot(folder)
    names = instance_names(project)
    result = run_ml_process("train", *ARGS, f"--name={name}", cwd=project, env=ml_env)
    assert_clean_failure(result, 2, f"@{name}", "already exists")
    # Reported up front, not after minutes of feature extraction.
    assert "Extracting features" not in result.stderr and "cache:" not in result.stdout
    assert snapshot(folder) == before
    assert instance_names(project) == names
    assert read_metadata(project, name)["status"] == "finished"
