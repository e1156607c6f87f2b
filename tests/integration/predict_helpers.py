"""A fabricated instance with a real Keras model (no tests here), shared by the
predict tests and the live REST tests."""
from pathlib import Path

import numpy as np
import yaml


COLOURS = {"red": (230, 20, 20), "green": (20, 230, 20), "blue": (20, 20, 230)}


def make_instance(trainings_dir, name="tiny-tron", labels=("red", "green", "blue"), size=32,
                  resize="fill", predictions=None):
    """Write an instance folder as docs/architecture.md describes it.

    Args:
        trainings_dir: the trainings directory.
        name: the instance name.
        labels: class names; the first three follow the R, G, B channels.
        size: input size of the model.
        resize: the resize mode recorded in the hyperparameters.
        predictions: optional ``(y_true, y_prob)`` for stats/test_predictions.npz.

    Returns:
        The instance folder.
    """
    import keras
    folder = Path(trainings_dir) / name
    (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
    (folder / "stats").mkdir(exist_ok=True)
    inputs = keras.Input((size, size, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    outputs = keras.layers.Dense(len(labels), activation="softmax")(pooled)
    model = keras.Model(inputs, outputs)
    kernel = np.zeros((3, len(labels)), dtype=np.float32)
    for channel in range(min(3, len(labels))):
        kernel[channel, channel] = 4.0
    model.layers[-1].set_weights([kernel, np.zeros(len(labels), dtype=np.float32)])
    model.save(folder / "checkpoints" / "model.keras")
    (folder / "checkpoints" / "labels.txt").write_text("\n".join(labels) + "\n")
    metadata = {"name": name, "model": "imagenet", "backbone": "mobilenet", "status": "finished",
                "hyperparameters": {"architecture": "mobilenet", "size": size, "resize": resize,
                                    "labels": list(labels)},
                "results": {"test_acc": 1.0}}
    (folder / "data.yaml").write_text(yaml.safe_dump(metadata))
    if predictions is not None:
        y_true, y_prob = predictions
        np.savez(folder / "stats" / "test_predictions.npz", y_true=np.asarray(y_true),
                 y_prob=np.asarray(y_prob, dtype=np.float32),
                 files=np.array([f"f{i}.png" for i in range(len(y_true))]))
    return folder
