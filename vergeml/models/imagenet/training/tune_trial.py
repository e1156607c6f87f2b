"""One trial of a search on Ray Tune, as it runs on a worker.

A worker shares no disk with the driver. It gets the cached features through
Ray's object store and its run's folder as the driver created it
(``data.yaml``, ``samples.csv``, ...) as bytes; it trains the top there
exactly as a local run does (:func:`~vergeml.models.imagenet.training.head.fit_top`,
one committed checkpoint per epoch) in a temporary folder. After each
committed epoch it hands the folder's files to the driver's
:class:`Collector` and reports the epoch to Tune, whose ASHA scheduler may
stop the trial there. The driver writes the files back and finishes the run
(:mod:`.tune_search`). Nothing here runs in the driver but :class:`Collector`'s
methods (in its actor) and the file helpers.
"""
import os
import tempfile
from pathlib import Path

from vergeml.fileutil import atomic_write_bytes

# What Tune's scheduler compares trials on, reported after every epoch.
METRIC, MODE = "val_acc", "max"


class Collector:
    """The latest files of each trial's folder, kept for the driver (a Ray actor)."""

    def __init__(self):
        self.latest = {}

    def put(self, name, files):
        """Keep ``files`` (relative path -> bytes) as trial ``name``'s latest."""
        self.latest[name] = files

    def get(self, name):
        """Trial ``name``'s latest files, or None when it committed no epoch."""
        return self.latest.get(name)


def folder_files(root):
    """Every file under ``root`` as ``{posix relative path: bytes}`` (temporary files left out)."""
    root = Path(root)
    return {path.relative_to(root).as_posix(): path.read_bytes()
            for path in sorted(root.rglob("*"))
            if path.is_file() and ".tmp" not in path.name}


def write_files(root, files):
    """Write ``files`` (from :func:`folder_files`) under ``root``, each atomically."""
    root = Path(root)
    for relpath, data in files.items():
        target = root.joinpath(*relpath.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, data)


def run_trial(config, features=None, trials=None, seed=0, collector=None, threads=1):
    """Tune's function trainable: train one trial's top, reporting every epoch.

    Args:
        config: Tune's config, ``{"trial": index}`` into ``trials``.
        features: split -> ``(x, y)``, from the object store.
        trials: one ``{"name", "args", "files"}`` per trial (options and initial folder).
        seed: the random seed.
        collector: the :class:`Collector` actor handle.
        threads: TensorFlow's threads in this trial (its CPUs).
    """
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(threads))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    trial = trials[config["trial"]]
    with tempfile.TemporaryDirectory(prefix="vergeml-trial-") as folder:
        write_files(Path(folder) / trial["name"], trial["files"])
        _fit(Path(folder), trial, features, seed, collector)


def _fit(trainings, trial, features, seed, collector):
    from vergeml.instances import load_instance
    from vergeml.models.imagenet.training.head import build_top, fit_top
    from vergeml.models.imagenet.training.run_state import RunState
    from vergeml.runtimes import tensorflow_setup
    _, keras = tensorflow_setup.load()
    keras.utils.set_random_seed(seed)
    args, instance = trial["args"], load_instance(trainings, trial["name"])
    state = RunState()
    top = build_top(features["train"][0].shape[1], len(instance.hyperparameters["labels"]),
                    args["layers"], args["dropout"], seed, l2=args["l2"])
    fit_top(top, features, args, instance, state, seed,
            callbacks=[_reporter(keras, instance, state, collector)])


def _reporter(keras, instance, state, collector):
    """The Keras callback that sends the committed epoch to the driver and to Tune."""
    import ray
    from ray import tune

    from vergeml import faults
    number = instance.metadata.get("grid_run")

    class Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            faults.point("trial.epoch", number)  # a test crashes one trial here
            ray.get(collector.put.remote(instance.name, folder_files(instance.path)))
            row = state.history[-1]
            score = row.get(METRIC) if row.get(METRIC) is not None else row.get("acc")
            tune.report({METRIC: score if score is not None else 0.0, "epoch": row["epoch"],
                         "val_loss": row.get("val_loss")})
    return Report()
