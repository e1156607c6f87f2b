"""A phase-1 run of the imagenet model in this process, without a backbone.

The top trains on small learnable features; the extractor only fuses a model
(what a cancelled or finished run saves). A run takes a second or two, so tests
can train, stop and cancel many runs (issue 30: commit consistency, losses).
"""
from types import SimpleNamespace

import numpy as np

from vergeml.instances import create_instance

DIM, CLASSES, EPOCHS = 8, 3, 3
ARGS = {"layers": 1, "dropout": 0.0, "l2": 0.001, "epochs": EPOCHS, "optimizer": "adam",
        "learning-rate": 0.05, "decay": 0.0, "batch-size": 16, "early-stopping-patience": 0,
        "early-stopping-delta": 0.0, "fine-tune-epochs": 0}


class Extractor:
    """The part of a FeatureExtractor a phase-1 run and its cancel use: the fused model."""

    def full_model(self, top):
        import keras
        inputs = keras.Input((DIM,))
        return keras.Model(inputs, top(inputs))


def features():
    """Learnable features: the class's one-hot in the first columns plus noise."""
    rng = np.random.default_rng(3)

    def split(n):
        y = np.arange(n) % CLASSES
        x = rng.normal(0, 0.6, (n, DIM)).astype("float32")
        x[np.arange(n), y] += 1.5
        return x, y.astype("int64")
    return {"train": split(96), "val": split(30), "test": split(30)}


def dataset():
    """The labels and test samples a finished run records."""
    samples = {s: [SimpleNamespace(relpath=f"{s}/{i}.png") for i in range(30)] for s in ("test",)}
    return SimpleNamespace(labels=[f"c{i}" for i in range(CLASSES)], samples=samples.get)


def train(folder, name, **changes):
    """One phase-1 run as ``ml train`` runs it: cancelled on KeyboardInterrupt. Its instance.

    Args:
        folder: the trainings folder.
        name: the run's name.
        **changes: train options other than :data:`ARGS` (underscores for hyphens).
    """
    from vergeml.models.imagenet.training.training_run import Run
    from vergeml.models.imagenet.training.run_state import RunState
    args = {**ARGS, **{k.replace("_", "-"): v for k, v in changes.items()}}
    instance = create_instance(folder, "imagenet", "mobilenet", dict(args), name=name)
    run = Run(instance, RunState(), args, 1, dataset(), Extractor(), features())
    try:
        run.train()
    except KeyboardInterrupt:
        run.cancel()
    return instance
