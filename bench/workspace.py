"""What the benchmarks of one ``bench/run.sh`` run share, in ``$BENCH_SHARED``.

``bench/run.sh`` makes one folder for the whole run and names it in
``BENCH_SHARED``, so that set-up nobody times is done once, not by every
benchmark: a ``KERAS_HOME`` holding the shared MobileNet weights, the
generated photos (:func:`photos.make_photos` keeps a pool there) and a trained
project (``bench_retrain`` leaves its project; ``bench_predict`` predicts with
its last run). A benchmark run by itself (``BENCH_SHARED`` unset) makes all of
it in its own temp folder.
"""
import os
import shutil
from pathlib import Path

SHARED_WEIGHTS = Path(__file__).resolve().parents[1].parent / "shared" / "weights"
MOBILENET_FILE = "mobilenet_2_5_224_tf_no_top.h5"
TRAINED = "trained-project"


def shared_dir():
    """The run's shared folder (``$BENCH_SHARED``), or None for a benchmark run by itself."""
    folder = os.environ.get("BENCH_SHARED")
    return Path(folder) if folder else None


def keras_home(root):
    """Point ``KERAS_HOME`` at a folder holding the shared MobileNet weights.

    Args:
        root: the benchmark's temp folder (used when there is no shared folder).

    Returns:
        Whether the weights are there (False: the shared file is missing, so
        MobileNet runs with random weights).
    """
    home = Path(shared_dir() or root) / "keras-home"
    models = home / "models"
    models.mkdir(parents=True, exist_ok=True)
    source = Path(os.environ.get("VERGEML_TEST_WEIGHTS", SHARED_WEIGHTS)) / MOBILENET_FILE
    if source.is_file() and not (models / MOBILENET_FILE).is_file():
        shutil.copyfile(source, models / f".{MOBILENET_FILE}.tmp")
        os.replace(models / f".{MOBILENET_FILE}.tmp", models / MOBILENET_FILE)
    os.environ["KERAS_HOME"] = str(home)
    return (models / MOBILENET_FILE).is_file()


def keep_trained(project, run):
    """Leave a project and the name of a finished run in it to the benchmarks after this one
    (when shared)."""
    shared = shared_dir()
    if shared is not None:
        shutil.rmtree(shared / TRAINED, ignore_errors=True)
        shutil.move(str(project), shared / TRAINED)
        (shared / f"{TRAINED}.run").write_text(run)


def trained_project():
    """``(project folder, run name)`` that :func:`keep_trained` left, or None."""
    shared = shared_dir()
    if shared is None or not (shared / TRAINED / "trainings").is_dir():
        return None
    return shared / TRAINED, (shared / f"{TRAINED}.run").read_text()


HYMENOPTERA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hymenoptera"


def hymenoptera_bench(description, prefix):
    """The common start of the benchmarks on the ants and bees.

    Parses ``--quick`` (96 px, seed 1; else 224 px, seeds 1-3), checks the
    photos and the shared weights (exits with one line when one is missing) and
    makes the benchmark's temp folder.

    Args:
        description: the benchmark's ``--help`` line.
        prefix: of the temp folder's name.

    Returns:
        ``(size, seeds, base folder)``; the caller removes the folder.
    """
    import argparse
    import sys
    import tempfile
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="96 px, seed 1")
    opts = parser.parse_args()
    size, seeds = (96, (1,)) if opts.quick else (224, (1, 2, 3))
    if not HYMENOPTERA.is_dir():
        sys.exit(f"no photos at {HYMENOPTERA}")
    base = Path(tempfile.mkdtemp(prefix=prefix))
    if not keras_home(base):
        shutil.rmtree(base, ignore_errors=True)
        sys.exit("the shared MobileNet weights are missing")
    return size, seeds, base


def train_hymenoptera(base, name, samples, seed, size, *options):
    """One ``ml train`` on the ants and bees, in this process (TensorFlow starts once).

    The project is ``base/<name>`` with ``samples`` linked as its samples folder,
    ``val/`` as the test split and 15% validation; the feature cache is shared
    under ``base/cache``; MobileNet a0.25 at ``size`` px; the run is ``@run``.

    Args:
        base: the benchmark's folder.
        name: of the project folder.
        samples: the folder of class folders to train on.
        seed: the random seed (and so the split).
        size: input size in pixels.
        *options: more ``ml train`` options.

    Returns:
        The project folder (exits with ml's output when the run fails).
    """
    import sys
    from bench_top_probe import quietly
    from vergeml.cli import main as cli
    root = base / name
    root.mkdir()
    (root / "samples").symlink_to(samples, target_is_directory=True)
    (root / "vergeml.yaml").write_text("model: imagenet\n")
    argv = ["--project-dir", str(root), f"--cache-dir={base / 'cache'}", f"--random-seed={seed}",
            "--val-split=15%", f"--test-split={HYMENOPTERA / 'val'}", "train",
            "--architecture=mobilenet", "--alpha=0.25", f"--size={size}", *options, "--name=run"]
    status, output = quietly(cli.main, argv)
    if status:
        sys.exit(f"ml {' '.join(argv)} failed ({status}):\n{output[-3000:]}")
    return root
