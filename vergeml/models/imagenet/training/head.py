"""The trainable top: its layers, its optimizer, and phase 1 of ``ml train``.

Phase 1 trains the top on the cached backbone features, validating every
epoch; :mod:`.fine_tune` is phase 2.

The defaults (Adam at 0.01 with an L2 penalty for 100 epochs, the best
epoch kept) are issue 14's, not the original's (SGD at 0.0001 for 5 epochs):
the original's top stopped far short of convergence, 36-83 points of test
accuracy below a logistic regression on the same MobileNet features; these
defaults reach it on every bench set (``bench/bench_top_probe.py``,
``docs/train.md``).
"""

# learning-rate auto: phase 1's rate.
AUTO_LEARNING_RATE = 0.01
# fine-tune-learning-rate auto: this fraction of learning-rate, auto or given
# (a tenth of 0.01 wrecks the pre-trained backbone in phase 2's first epoch;
# on the ants and bees, 3 seeds of the recipe: 1e-4 0.845, 2e-4 0.843,
# 3e-4 0.865, 5e-4 0.850, 1e-3 0.841 test accuracy).
FINE_TUNE_FRACTION = 0.03
AUTO_FINE_TUNE_LEARNING_RATE = AUTO_LEARNING_RATE * FINE_TUNE_FRACTION  # 0.0003
# Runs stored before learning-rate had auto kept fine-tune auto unresolved: a tenth.
LEGACY_FINE_TUNE_FRACTION = 0.1
# l2 auto: scikit-learn's penalty at this C, spread over the training samples
# (C * sum of losses + |w|^2 / 2 is, per sample, mean loss + |w|^2 / (2 C n)).
AUTO_L2_C = 2.0


def resolve_learning_rates(args):
    """``args`` of a new run with ``learning-rate`` and ``fine-tune-learning-rate`` as numbers.

    ``learning-rate: auto`` is :data:`AUTO_LEARNING_RATE`;
    ``fine-tune-learning-rate: auto`` is :data:`FINE_TUNE_FRACTION` (3%)
    of ``learning-rate``, whether that is given or auto: 0.01 typed gives
    phase 2 what ``auto`` (0.01) gives, 0.0003. A new run stores
    the numbers (as it stores ``size``), so resuming it never depends on these
    constants; see :func:`run_fine_tune_rate` for the runs stored before.
    """
    rate, fine_tune = args.get("learning-rate"), args.get("fine-tune-learning-rate")
    if rate in (None, "auto"):
        rate = AUTO_LEARNING_RATE
    if fine_tune in (None, "auto"):
        fine_tune = rate * FINE_TUNE_FRACTION
    return {**args, "learning-rate": rate, "fine-tune-learning-rate": fine_tune}


def run_fine_tune_rate(args):
    """Phase 2's learning rate of a run's own options (resolved, or as stored).

    A run stored before ``learning-rate`` had ``auto`` holds a number there and
    ``auto`` for phase 2: it keeps the rule it started with, a tenth.
    """
    rate, fine_tune = args.get("learning-rate"), args.get("fine-tune-learning-rate")
    if fine_tune in (None, "auto") and rate not in (None, "auto"):
        return rate * LEGACY_FINE_TUNE_FRACTION
    return resolve_learning_rates(args)["fine-tune-learning-rate"]


def resolve_l2(args, train_count):
    """``args`` with ``l2`` as a number: ``auto`` is ``1 / (2 * AUTO_L2_C * train_count)``.

    The penalty then weighs like a prior: strong on a few hundred images, fading
    as the training split grows. A new run stores the number, so resuming it
    never depends on the split or on these constants.

    Args:
        args: the train options.
        train_count: feature vectors in the training split.
    """
    if args.get("l2") in (None, "auto"):
        return {**args, "l2": 1.0 / (2.0 * AUTO_L2_C * max(1, train_count))}
    return args


def build_top(input_dim, num_classes, layers, dropout, seed, l2=0.0):
    """The trainable top: (layers-1) x [dropout, dense 1024 relu], dropout, softmax.

    Args:
        input_dim: length of a feature vector.
        num_classes: outputs of the softmax layer.
        layers: dense layers, the softmax layer included.
        dropout: rate before each dense layer (0: none).
        seed: seeds the dense kernels' initial weights and the dropout layers.
        l2: L2 penalty on every dense kernel (0: none; see :func:`resolve_l2`).
    """
    import keras

    def dense(units, index, **kwargs):
        # Seeded here, not by Keras' global generator: what was built before the top (the
        # backbone in a local run, nothing in a trial on Ray) must not change where it starts.
        return keras.layers.Dense(units, kernel_regularizer=keras.regularizers.L2(l2) if l2 else None,
                                  kernel_initializer=keras.initializers.GlorotUniform(
                                      seed=seed + 1000 + index), **kwargs)
    inputs = keras.Input((input_dim,), name="features")
    x = inputs
    for index in range(layers - 1):
        if dropout:
            x = keras.layers.Dropout(dropout, seed=seed + index, name=f"dropout_{index + 1}")(x)
        x = dense(1024, index, activation="relu", name=f"dense_layer_{index + 1}")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, seed=seed + layers, name="dropout_top")(x)
    outputs = dense(num_classes, layers - 1, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="top")


def make_optimizer(name, learning_rate, decay):
    """SGD with momentum 0.9 or Adam; ``decay`` gives inverse-time decay per step."""
    import keras
    if decay:
        learning_rate = keras.optimizers.schedules.InverseTimeDecay(learning_rate, 1, decay)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    return keras.optimizers.SGD(learning_rate, momentum=0.9)


def compile_top(top, args):
    """Compile the top with the run's optimizer for phase 1.

    Only phase 1 compiles it: a top that phase 1 never trained (a run resumed
    in phase 2) carries no unbuilt optimizer into the saved model.
    """
    from vergeml.models.imagenet.training.callbacks import loss_metrics
    rate = resolve_learning_rates(args)["learning-rate"]
    top.compile(optimizer=make_optimizer(args["optimizer"], rate, args["decay"]),
                loss="sparse_categorical_crossentropy", metrics=loss_metrics())


def fit_top(top, features, args, instance, state, seed, callbacks=()):
    """Phase 1: train the top on cached features from ``state.epochs_done`` on.

    A resumed run first loads the last epoch's weights and optimizer state.
    Each epoch commits a checkpoint (see :mod:`.run_state`); afterwards the
    top holds the best phase-1 epoch's weights.

    Args:
        top: from :func:`build_top` (compiled here).
        features: split -> ``(x, y)`` cached features.
        args: the train options.
        instance: the :class:`vergeml.instances.Instance`.
        state: its :class:`~vergeml.models.imagenet.training.run_state.RunState`.
        seed: the random seed (per-epoch shuffles derive from it).
        callbacks: more Keras callbacks, called after each epoch's commit (a trial of a
            search on Ray reports the epoch with one).
    """
    from vergeml.models.imagenet.training.callbacks import EpochCheckpoint, tensorboard
    from vergeml.models.imagenet.training.class_weights import keras_class_weight
    from vergeml.models.imagenet.training.pipeline import epoch_dataset, steps_per_epoch
    from vergeml.models.imagenet.training.run_state import restore_seeds
    x_train, y_train = features["train"]
    x_val, y_val = features["val"]
    compile_top(top, args)
    if state.epochs_done:
        load_last(top, instance, state)
        restore_seeds(state.seeds, top)
    batch = args["batch-size"]
    data = epoch_dataset((x_train, y_train), batch, seed, state.epochs_done, args["epochs"])
    has_val = len(x_val) > 0
    checkpoint = EpochCheckpoint(instance, state, "top",
                                 patience=args["early-stopping-patience"] if has_val else 0,
                                 min_delta=args["early-stopping-delta"])
    weights = keras_class_weight(args.get("class-weights"), instance.hyperparameters.get("labels"))
    top.fit(data, steps_per_epoch=steps_per_epoch(len(x_train), batch), epochs=args["epochs"],
            initial_epoch=state.epochs_done, shuffle=False, class_weight=weights,
            callbacks=[checkpoint, tensorboard(instance), *fault_points("top"), *callbacks],
            validation_data=(x_val, y_val) if has_val else None, verbose=verbosity())
    if state.best_phase == "top":
        top.load_weights(instance.checkpoints_dir / state.best_file)


def fault_points(phase):
    """Keras callbacks marking ``<phase>.epoch`` (an epoch starts: the previous one is
    committed) and ``<phase>.batch`` (a batch ended) as :mod:`vergeml.faults` points.

    Args:
        phase: ``top`` or ``fine-tune``.

    Returns:
        A list of callbacks, empty when the hook is unset (a normal run pays nothing).
    """
    from vergeml import faults
    if not faults.active():
        return []
    import keras

    class FaultPoints(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            faults.point(f"{phase}.epoch")

        def on_train_batch_end(self, batch, logs=None):
            faults.point(f"{phase}.batch")
    return [FaultPoints()]


def load_last(model, instance, state):
    """Load the last committed epoch's weights and optimizer state into a compiled model."""
    model.optimizer.build(model.trainable_variables)  # the file holds the optimizer's variables
    model.load_weights(instance.checkpoints_dir / state.last_file)


def verbosity():
    """Keras' progress bar (with ETA) on a terminal, one line per epoch otherwise."""
    import sys
    return 1 if sys.stdout.isatty() else 2
