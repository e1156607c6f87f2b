"""A plain Keras fine-tune of the whole MobileNet a0.25, on the split of an ``ml`` run.

The baseline of issue 25's fine-tune rows: what a user would write from the
Keras transfer-learning guide, not ``ml``. ImageNet MobileNet (alpha 0.25,
224 px, weights from ``$KERAS_HOME``) with every layer trainable, called
with ``training=False`` so that BatchNormalization keeps its ImageNet
statistics (the guide's advice); ``RandomFlip("horizontal")`` in front,
``keras.applications.mobilenet.preprocess_input``, a softmax ``Dense`` on the
pooled features; Adam at 1e-4, sparse categorical cross-entropy, batch 32,
``--epochs`` epochs keeping the weights of the epoch with the lowest
validation loss, then the test accuracy of those weights.

BatchNormalization: with Keras 3.15 the guide's ``base(x, training=False)``
alone does not keep it in inference mode. A functional model hands its own
``training`` to every layer it calls (``keras/src/models/functional.py``,
``operation_fn``), overriding the ``False`` recorded when the graph was
built, so ``fit`` normalises with batch statistics and moves the ImageNet
moving averages; the model then infers with statistics it did not train
with (hymenoptera, seed 1, 6 epochs: val_acc stuck at one class for 4
epochs, test_acc 0.54). So by default (``--batchnorm=frozen``) the BatchNormalization layers
are also set ``trainable = False``, which Keras 3 documents as running them
in inference mode (their scale and offset stay fixed, as in ``ml``'s
phase 2); the script checks the moving statistics did not move.
``--batchnorm=guide`` runs the guide's code as written, for the record.

The split is the run's: ``trainings/<run>/samples.csv`` of an ``ml train``
names every file with its label and split (train/val/test), and each file
is checked against the digest recorded there, so both see exactly the same
images. Each image is read as ``ml`` reads it with its default
``--resize=fill`` (``vergeml/data/images.py``): decoded with Pillow, turned
upright by its EXIF orientation, converted to RGB, then stretched to
224x224 (no crop, no letterbox) with Lanczos resampling. That is written
here with Pillow alone, not through ``vergeml``, and gives the same pixels
(checked on all 398 hymenoptera photos). ``bench_recipe.py`` runs it on the
split of its ``auto`` run.

Run: ``.venv/bin/python bench/plain_finetune.py PROJECT RUN --epochs=N [--seed=S]``
(``KERAS_HOME`` must hold ``models/mobilenet_2_5_224_tf_no_top.h5``: see
``bench/workspace.py``). Prints one JSON line: test_acc, test_loss,
epochs, best_epoch, best val_loss, the number of images per split,
seconds (the whole process), train_seconds (``fit`` and the test),
peak_rss_mb (this process's peak resident set) and the per-epoch history.
"""
import time

STARTED = time.perf_counter()

import argparse  # noqa: E402 - the clock starts before the imports
import csv  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

SIZE = 224
ALPHA = 0.25
BATCH = 32
LEARNING_RATE = 1e-4
COLUMNS = ["file", "label", "split", "digest"]  # vergeml/instances/sample_record.py


def read_split(project, run):
    """``{split: [(path, label), ...]}`` from ``trainings/<run>/samples.csv``.

    A relative path is the samples folder's (the run's ``samples_dir``), else
    the project's (a split folder outside the samples); every file must have
    the recorded digest.
    """
    import yaml
    folder = Path(project) / "trainings" / run
    settings = yaml.safe_load((folder / "data.yaml").read_text())["data"]["settings"]
    samples = Path(project) / (settings.get("samples_dir") or "samples")
    with open(folder / "samples.csv", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != COLUMNS:
            sys.exit(f"{folder / 'samples.csv'}: expected the columns {COLUMNS}, got {reader.fieldnames}")
        records = list(reader)
    split = {"train": [], "val": [], "test": []}
    for record in records:
        path = Path(record["file"])
        if not path.is_absolute():
            path = samples / path if (samples / path).is_file() else Path(project) / path
        if hashlib.sha256(path.read_bytes()).hexdigest() != record["digest"]:
            sys.exit(f"{path}: not the file the run recorded (digest differs)")
        split[record["split"]].append((path, record["label"]))
    return split


def load(path):
    """One image as ``ml --resize=fill`` fits it: upright, RGB, stretched to SIZE x SIZE."""
    import numpy as np
    from PIL import Image, ImageOps
    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image).convert("RGB")
        return np.asarray(image.resize((SIZE, SIZE), Image.Resampling.LANCZOS), dtype=np.uint8)


def arrays(pairs, labels):
    """``(uint8 images, int labels)`` of one split."""
    import numpy as np
    images = np.stack([load(path) for path, _ in pairs]) if pairs else np.zeros((0, SIZE, SIZE, 3), "uint8")
    return images, np.array([labels.index(label) for _, label in pairs], dtype="int32")


def build(classes, batchnorm="frozen"):
    """The guide's model: flip, preprocess, the whole MobileNet (BN in inference mode), softmax.

    Returns ``(model, backbone)``.
    """
    import keras
    base = keras.applications.MobileNet(alpha=ALPHA, include_top=False, pooling="avg",
                                        input_shape=(SIZE, SIZE, 3), weights="imagenet")
    base.trainable = True
    if batchnorm == "frozen":
        for layer in base.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.RandomFlip("horizontal")(inputs)
    x = keras.applications.mobilenet.preprocess_input(x)
    x = base(x, training=False)
    outputs = keras.layers.Dense(classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")])
    return model, base


def moving_statistics(base):
    """The BatchNormalization layers' moving means and variances, as one flat array."""
    import keras
    import numpy as np
    return np.concatenate([keras.ops.convert_to_numpy(w).ravel() for layer in base.layers
                           if isinstance(layer, keras.layers.BatchNormalization)
                           for w in (layer.moving_mean, layer.moving_variance)])


def batches(images, labels, seed=None):
    """A ``tf.data`` pipeline of float batches, reshuffled every epoch when ``seed`` is given."""
    import tensorflow as tf
    data = tf.data.Dataset.from_tensor_slices((images, labels))
    if seed is not None:
        data = data.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    return data.batch(BATCH).map(lambda x, y: (tf.cast(x, tf.float32), y)).prefetch(2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", help="the ml project folder")
    parser.add_argument("run", help="the name of an ml run in it (its samples.csv gives the split)")
    parser.add_argument("--epochs", type=int, required=True, help="epochs to train")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batchnorm", choices=("frozen", "guide"), default="frozen",
                        help="frozen: BN layers also trainable=False (inference mode, the default); "
                             "guide: only training=False, as the guide writes it")
    opts = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    split = read_split(opts.project, opts.run)
    labels = sorted({label for pairs in split.values() for _, label in pairs})
    data = {name: arrays(pairs, labels) for name, pairs in split.items()}
    keras.utils.set_random_seed(opts.seed)
    model, base = build(len(labels), opts.batchnorm)
    statistics = moving_statistics(base)
    best = {"val_loss": float("inf"), "epoch": 0, "weights": None}

    class KeepBest(keras.callbacks.Callback):
        """The weights of the epoch with the lowest validation loss (the first of equals)."""

        def on_epoch_end(self, epoch, logs=None):
            if logs["val_loss"] < best["val_loss"]:
                best.update(val_loss=float(logs["val_loss"]), epoch=epoch + 1,
                            weights=self.model.get_weights())

    start = time.perf_counter()
    fitted = model.fit(batches(*data["train"], seed=opts.seed), validation_data=batches(*data["val"]),
                       epochs=opts.epochs, callbacks=[KeepBest()], shuffle=False, verbose=0)
    moved = float(abs(moving_statistics(base) - statistics).max())
    if opts.batchnorm == "frozen" and moved:
        sys.exit(f"BatchNormalization's moving statistics moved by up to {moved:g}: not in inference mode")
    model.set_weights(best["weights"])
    test_loss, _ = model.evaluate(batches(*data["test"]), verbose=0)
    # From the predictions in float64, as ml computes it: Keras's float32 metric is off by ~1e-8,
    # enough to make an equal accuracy compare lower.
    predicted = model.predict(batches(*data["test"]), verbose=0).argmax(axis=1)
    test_acc = float((predicted == data["test"][1]).mean())
    done = time.perf_counter()
    print(json.dumps({
        "test_acc": test_acc, "test_loss": float(test_loss), "epochs": opts.epochs,
        "best_epoch": best["epoch"], "best_val_loss": best["val_loss"], "seed": opts.seed,
        "batchnorm": opts.batchnorm, "bn_statistics_moved": moved,
        "images": {name: len(pairs) for name, pairs in split.items()},
        "seconds": done - STARTED, "train_seconds": done - start,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "history": {key: [round(float(v), 4) for v in values] for key, values in fitted.history.items()}}))


if __name__ == "__main__":
    main()
