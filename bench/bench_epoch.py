"""Seconds per epoch of the top over 10,000 cached feature vectors, against a bare ``model.fit``.

Ours: phase 1 of ``ml train`` as it runs, in this process:
:func:`vergeml.models.imagenet.training.head.fit_top` with the default train options
(one softmax Dense layer, Adam, batch 64, validation every epoch) on a real
instance folder, so each epoch includes what ``ml train`` does around the
step: the ``tf.data`` pipeline gathering seeded batches, the checkpoint
commit, the best-epoch hard link, ``data.yaml``, ``history.csv`` and TensorBoard.

Baseline: the same top (``build_top``, ``compile_top``: same layer, optimizer,
loss and metric), fitted with plain Keras ``model.fit(x, y, batch_size=64,
shuffle=True, validation_data=...)`` on the same numpy arrays, no callbacks.
The ratio is what ``ml``'s bookkeeping and pipeline add to the same compute.

The vectors have the shape of MobileNet a0.25's pooled features (256,
non-negative, float32), 10 classes, 10% more for validation; their values
are synthetic (class centres plus noise, rectified): the cost of an epoch
depends on the shapes, not the values. Each side's seconds per epoch is the
time of a fit of ``1 + E`` epochs minus that of a fresh fit of 1 epoch,
divided by E, so compiling and tracing (once per run) are left out.

Run: ``.venv/bin/python bench/bench_epoch.py [--quick]`` (10,000 vectors, E=5;
``--quick``: 2,000 vectors, E=3). Target: <= 2x (the bookkeeping may cost
at most what the epoch's own compute costs).
"""
import argparse
import contextlib
import io
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rows

DIM, CLASSES, SEED = 256, 10, 1
PLAN = {False: {"vectors": 10_000, "epochs": 5}, True: {"vectors": 2_000, "epochs": 3}}  # by --quick


def feature_vectors(count):
    """Split -> ``(x, y)``: ``count`` train vectors and a tenth as many for validation."""
    import numpy as np
    rng = np.random.default_rng(0)
    centres = rng.gamma(1.0, 1.0, (CLASSES, DIM))

    def split(n):
        y = rng.integers(0, CLASSES, n)
        x = np.maximum(centres[y] + rng.normal(0, 1.0, (n, DIM)), 0).astype("float32")
        return x, y.astype("int64")
    return {"train": split(count), "val": split(max(1, count // 10))}


def train_options(epochs):
    """The default train options of the imagenet model, with ``epochs``."""
    from vergeml.models.imagenet.imagenet_options import TRAIN_OPTIONS
    return {**{option.name: option.default for option in TRAIN_OPTIONS}, "epochs": epochs}


def fresh_top(args):
    """The top ``ml train`` builds for these features (not yet compiled)."""
    from vergeml.models.imagenet.training.head import build_top
    return build_top(DIM, CLASSES, args["layers"], args["dropout"], SEED)


def ours(features, epochs, trainings):
    """Seconds of ``fit_top`` for ``epochs`` epochs on a new instance in ``trainings``."""
    from vergeml.instances import create_instance
    from vergeml.models.imagenet.training.run_state import RunState
    from vergeml.models.imagenet.training.head import fit_top
    args = train_options(epochs)
    instance = create_instance(trainings, "imagenet", "mobilenet", args)
    top = fresh_top(args)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # Keras' line per epoch
        fit_top(top, features, args, instance, RunState(), SEED)
    return time.perf_counter() - start


def baseline(features, epochs):
    """Seconds of plain ``model.fit`` of the same top on the same arrays for ``epochs`` epochs."""
    from vergeml.models.imagenet.training.head import compile_top
    args = train_options(epochs)
    top = fresh_top(args)
    start = time.perf_counter()
    compile_top(top, args)
    top.fit(*features["train"], batch_size=args["batch-size"], epochs=epochs, shuffle=True,
            validation_data=features["val"], verbose=0)
    return time.perf_counter() - start


def per_epoch(label, fit, epochs):
    """``(fit(1 + epochs) - fit(1)) / epochs``: seconds per epoch without compile and tracing."""
    one = fit(1)
    more = fit(1 + epochs)
    print(f"  {label}: 1 epoch {one:.2f} s, {1 + epochs} epochs {more:.2f} s", flush=True)
    return (more - one) / epochs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer vectors and epochs (bench-quick)")
    plan = PLAN[parser.parse_args().quick]
    count, epochs = plan["vectors"], plan["epochs"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    start = time.perf_counter()
    from vergeml.runtimes import tensorflow_setup as backend  # TensorFlow
    _, keras = backend.load()
    keras.utils.set_random_seed(SEED)
    features = feature_vectors(count)
    print(f"TensorFlow loaded in {time.perf_counter() - start:.1f} s; "
          f"{count:,} cached feature vectors ({DIM}-dim, {CLASSES} classes, "
          f"{len(features['val'][0]):,} val), {epochs} timed epochs; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-epoch-") as trainings:
        baseline(features, 1)  # the first fit of each kind pays one-off set-up: not timed
        ours(features, 1, trainings)
        base_s = per_epoch("model.fit", lambda n: baseline(features, n), epochs)
        ours_s = per_epoch("fit_top", lambda n: ours(features, n, trainings), epochs)
    rows.emit(f"one epoch over {count:,} cached feature vectors, default top", ours_s, base_s,
              "s", target=2.0, higher_is_better=False,
              note="plain Keras model.fit, same top and arrays")
    print(f"load average {os.getloadavg()[0]:.2f}; {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
