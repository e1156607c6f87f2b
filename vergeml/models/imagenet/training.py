"""The steps of ``ml train`` for the imagenet model.

1. Fingerprint the samples and build or reuse the cache of backbone features.
2. Load the architecture (fails fast when its weights are missing).
3. Train the top on the cached features, validating every epoch and keeping
   the best epoch's weights.
4. Test the best epoch, save the full model, labels and results into
   ``trainings/<instance>/``.

TensorFlow and Keras are imported here, never by the modules ``ml help`` reads.
"""
import signal
import sys
from contextlib import contextmanager

import numpy as np

from vergeml.errors import VergeMLError
from vergeml.fileutil import atomic_path, atomic_write_text
from vergeml.spelling import stored_key



class Cancelled(KeyboardInterrupt):
    """Raised by the SIGTERM handler so a terminated run ends like Ctrl-C."""


def train(args, env):
    """Run ``ml train``. Returns the exit status."""
    # SIGTERM ends every step like Ctrl-C: while extracting, the features
    # done so far are committed to the cache; while training, the run is
    # cancelled with its best checkpoint.
    with _sigterm_as_interrupt():
        return _train(args, env)


def _train(args, env):
    from vergeml import backend
    from vergeml.data import load_dataset
    from vergeml.models.imagenet.features import FeatureExtractor
    from vergeml.models.imagenet.outputs import warn_ignored
    from vergeml.models.imagenet.feature_cache import cached_features
    from vergeml.instances import check_new_name

    if args.get("name") is not None:
        check_new_name(env.trainings_dir, args["name"])  # a clash is found before any long work
    dataset = load_dataset(env, skip_bad=env.settings.get("skip-bad-files", False))
    _check_dataset(dataset, args)
    warn_ignored(dataset.config.output, args)
    backend.load(env.settings)  # after the data checks: bad input is reported without waiting for TF
    _seed_everything(env.random_seed)
    extractor = FeatureExtractor(args["architecture"], variant=args["variant"], size=args["size"],
                                 alpha=args["alpha"], weights=args["weights"],
                                 output_layer=args["output-layer"], seed=env.random_seed)
    extractor.model  # step 2 up front: missing weights fail before any long work
    features = cached_features(dataset, extractor, args, env.settings)
    instance = None
    try:
        instance = _create_instance(args, env, dataset, extractor)
        top, history = fit_top(features, dataset, args, instance, env.random_seed)
        finish(instance, top, features, dataset, extractor, history)
    except KeyboardInterrupt:
        if instance is not None:
            _cancel(instance, dataset, extractor, features)
        return 130
    except BaseException as error:
        if instance is not None:
            instance.set_status("failed", error=f"{type(error).__name__}: {error}")
        raise
    return 0


def _check_dataset(dataset, args):
    if len(dataset.labels) < 2:
        raise VergeMLError(f"found {len(dataset.labels)} class(es) in the samples folder; "
                           "training a classifier needs at least 2",
                           hint="Put images into samples/<class>/ folders, one per class.")
    if not dataset.samples("train"):
        raise VergeMLError("the training split is empty",
                           hint="Add samples or lower --val-split / --test-split.")


def _seed_everything(seed):
    import keras
    keras.utils.set_random_seed(seed)


def _create_instance(args, env, dataset, extractor):
    import keras
    import tensorflow as tf
    from vergeml.instances import create_instance
    hyperparameters = {stored_key(k): v for k, v in args.items() if k != "name"}
    hyperparameters.update(size=extractor.size, labels=list(dataset.labels))
    instance = create_instance(env.trainings_dir, "imagenet", extractor.backbone.keras_name,
                               hyperparameters, name=args.get("name"))
    sizes = dataset.split_sizes()
    # The operations are stored so that prediction prepares images exactly as training did.
    instance.metadata["data"] = {"fingerprint": dataset.fingerprint, "labels": list(dataset.labels),
                                 "preprocess": env.data_config.get("preprocess") or [],
                                 **{f"num_{k}": v for k, v in sizes.items()}}
    instance.metadata.setdefault("versions", {}).update(
        tensorflow=tf.__version__, keras=keras.__version__, numpy=np.__version__)
    instance.update_results(num_samples=sizes["train"])
    print(f"Training @{instance.name} ({extractor.backbone.name}, {sizes['train']} train, "
          f"{sizes['val']} val, {sizes['test']} test samples)")
    return instance


def build_top(input_dim, num_classes, layers, dropout, seed):
    """The trainable top: (layers-1) x [dropout, dense 1024 relu], dropout, softmax."""
    import keras
    inputs = keras.Input((input_dim,), name="features")
    x = inputs
    for index in range(layers - 1):
        if dropout:
            x = keras.layers.Dropout(dropout, seed=seed + index)(x)
        x = keras.layers.Dense(1024, activation="relu", name=f"dense_layer_{index + 1}")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, seed=seed + layers)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="top")


def make_optimizer(name, learning_rate, decay):
    """SGD with momentum 0.9 or Adam; ``decay`` gives inverse-time decay per step."""
    import keras
    if decay:
        learning_rate = keras.optimizers.schedules.InverseTimeDecay(learning_rate, 1, decay)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    return keras.optimizers.SGD(learning_rate, momentum=0.9)


def fit_top(features, dataset, args, instance, seed):
    """Train the top on cached features; the best epoch's weights end up in the model.

    Returns:
        ``(top, history)`` where history is a list of per-epoch metric dicts.
    """
    import keras
    import tensorflow as tf
    from vergeml.models.imagenet.callbacks import BestEpochCheckpoint
    x_train, y_train = features["train"]
    x_val, y_val = features["val"]
    top = build_top(x_train.shape[1], len(dataset.labels), args["layers"], args["dropout"], seed)
    top.compile(optimizer=make_optimizer(args["optimizer"], args["learning-rate"], args["decay"]),
                loss="sparse_categorical_crossentropy", metrics=["acc"])
    train_data = (tf.data.Dataset.from_tensor_slices((x_train, y_train))
                  .shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True)
                  .batch(args["batch-size"]).prefetch(tf.data.AUTOTUNE))
    has_val = len(x_val) > 0
    checkpoint = BestEpochCheckpoint(instance)
    callbacks = [checkpoint,
                 keras.callbacks.TensorBoard(log_dir=str(instance.tensorboard_dir), write_graph=False)]
    if args["early-stopping-patience"] > 0 and has_val:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", min_delta=args["early-stopping-delta"],
            patience=args["early-stopping-patience"]))
    top.fit(train_data, epochs=args["epochs"], callbacks=callbacks, shuffle=False,
            validation_data=(x_val, y_val) if has_val else None,
            verbose=1 if sys.stdout.isatty() else 2)
    checkpoint.restore_best(top)
    return top, checkpoint.history


def finish(instance, top, features, dataset, extractor, history):
    """Test the best epoch, save the full model, labels and predictions; mark finished."""
    x_test, y_test = features["test"]
    results = {}
    if len(x_test):
        probabilities = top.predict(x_test, verbose=0)
        results = test_metrics(y_test, probabilities, len(dataset.labels))
        _save_predictions(instance, y_test, probabilities, dataset.samples("test"))
    save_model(instance, top, dataset, extractor)
    instance.update_results(**results)
    instance.set_status("finished")
    _print_summary(instance, results)


def test_metrics(y_true, probabilities, num_classes):
    """test_acc, test_loss and (one-vs-rest macro) auc of the test predictions."""
    from sklearn.metrics import log_loss, roc_auc_score
    predicted = probabilities.argmax(axis=1)
    results = {"test_acc": float((predicted == y_true).mean()),
               "test_loss": float(log_loss(y_true, probabilities, labels=list(range(num_classes))))}
    if len(np.unique(y_true)) == num_classes:  # AUC is undefined when a class is absent
        if num_classes == 2:
            results["auc"] = float(roc_auc_score(y_true, probabilities[:, 1]))
        else:
            results["auc"] = float(roc_auc_score(y_true, probabilities, multi_class="ovr",
                                                 labels=list(range(num_classes))))
    return results


def _save_predictions(instance, y_true, probabilities, samples):
    with atomic_path(instance.predictions_path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, y_true=y_true, y_prob=probabilities.astype("float32"),
                     files=np.array([s.relpath for s in samples]))


def save_model(instance, top, dataset, extractor):
    """Write labels.txt and the full model (backbone + top) as model.keras."""
    atomic_write_text(instance.labels_path, "\n".join(dataset.labels) + "\n")
    model = extractor.full_model(top)
    with atomic_path(instance.model_path) as tmp:
        model.save(tmp)


def _cancel(instance, dataset, extractor, features):
    """Ctrl-C or SIGTERM: keep the best checkpoint and make it usable, mark cancelled."""
    print("\nCancelled: keeping the best checkpoint so far.", file=sys.stderr)
    try:
        if instance.top_weights_path.exists():
            top = build_top(features["train"][0].shape[1], len(dataset.labels),
                            instance.hyperparameters["layers"], instance.hyperparameters["dropout"], 0)
            top.load_weights(instance.top_weights_path)
            save_model(instance, top, dataset, extractor)
    finally:
        instance.set_status("cancelled")


def _print_summary(instance, results):
    done = instance.results.get("epochs_done")
    best = instance.results.get("best_epoch")
    print(f"\nFinished @{instance.name}: best epoch {best} of {done}")
    if results:
        print(f"  test_acc {results['test_acc']:.3f}  test_loss {results['test_loss']:.3f}"
              + (f"  auc {results['auc']:.3f}" if "auc" in results else ""))
    print(f"  saved in {instance.path}")


@contextmanager
def _sigterm_as_interrupt():
    """Treat SIGTERM like Ctrl-C while training, so the run ends as cancelled."""
    def handler(signum, frame):
        raise Cancelled()
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
