"""Phase 2 of ``ml train``: fine-tune the backbone end to end on images.

Phase 1 trained the top on cached features. Here the backbone and that top
are joined into one model without retraining the top (a Keras model called
like a layer reuses its weights), the last ``fine-tune-layers`` layers of the
backbone are unfrozen, and the whole is trained at a low learning rate on
augmented images. BatchNormalization stays in inference mode throughout:
the backbone is called with ``training=False`` and its BN layers stay frozen,
since updating their statistics on a small data set wrecks the features.

The images come from the project cache (:mod:`.image_arrays`).
"""


def unfreeze(backbone, layers):
    """Make the last ``layers`` layers that hold weights trainable; BatchNormalization stays frozen.

    Args:
        backbone: the feature extractor's Keras model.
        layers: how many weight-holding layers (BatchNormalization not counted)
            to unfreeze from the end, or ``all``.

    Returns:
        How many layers were unfrozen.
    """
    import keras
    flat = list(_flat_layers(backbone))
    weighted = [l for l in flat if l.weights and not isinstance(l, keras.layers.BatchNormalization)]
    chosen = weighted if layers == "all" else weighted[-int(layers):] if int(layers) else []
    chosen_ids = {id(layer) for layer in chosen}
    backbone.trainable = True  # a layer trains only if its containers do too
    for layer in flat:
        if layer is not backbone:
            layer.trainable = id(layer) in chosen_ids
    return len(chosen)


def _flat_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            yield from _flat_layers(layer)
        else:
            yield layer


def fine_tune(top, extractor, dataset, args, instance, state, seed):
    """Phase 2: train backbone and top end to end on augmented images.

    Starts where ``state`` stands: after phase 1 (the top holds the best
    phase-1 weights), or inside phase 2 when resuming (the last epoch's
    weights and optimizer state are loaded).

    Returns:
        The fused model (backbone + top), holding the last epoch's weights.
    """
    import keras
    from vergeml.models.imagenet.training.augment import build_augmenter, parse_augment
    from vergeml.models.imagenet.training.callbacks import EpochCheckpoint, loss_metrics, tensorboard
    from vergeml.models.imagenet.training.class_weights import keras_class_weight
    from vergeml.models.imagenet.training.pipeline import epoch_dataset, image_transform, steps_per_epoch
    from vergeml.models.imagenet.training.run_state import restore_seeds
    from vergeml.models.imagenet.training.image_arrays import split_images
    from vergeml.models.imagenet.training.head import fault_points, load_last, make_optimizer, verbosity
    arrays = {split: split_images(dataset, split, extractor.size, args["resize"])
              for split in ("train", "val")}
    full = extractor.full_model(top)
    count = unfreeze(extractor.model, args["fine-tune-layers"])
    full.compile(optimizer=make_optimizer(args["optimizer"], fine_tune_rate(args), args["decay"]),
                 loss="sparse_categorical_crossentropy", metrics=loss_metrics())
    augmenter = build_augmenter(parse_augment(args["augment"]), seed)
    if state.phase == "fine-tune":
        load_last(full, instance, state)
        restore_seeds(state.seeds, full)  # the augmenter is reseeded per batch (pipeline.py)
    total = phase_end(state, "top") + args["fine-tune-epochs"]
    first, batch = state.epochs_done, args["batch-size"]
    train = epoch_dataset(arrays["train"], batch, seed, first, total,
                          transform=image_transform(extractor.preprocess, augmenter))
    val = epoch_dataset(arrays["val"], batch, seed, 0, 1, shuffle=False,
                        transform=image_transform(extractor.preprocess)) \
        if len(arrays["val"][0]) else None
    checkpoint = EpochCheckpoint(instance, state, "fine-tune",
                                 patience=args["early-stopping-patience"] if val is not None else 0,
                                 min_delta=args["early-stopping-delta"])
    print(f"Fine-tuning {count} layers of {extractor.backbone.name} and the top "
          f"(epochs {first + 1}-{total}, learning rate {fine_tune_rate(args):g})")
    keras.utils.set_random_seed(seed + first)
    weights = keras_class_weight(args.get("class-weights"), instance.hyperparameters.get("labels"))
    full.fit(train, steps_per_epoch=steps_per_epoch(len(arrays["train"][0]), batch), epochs=total,
             initial_epoch=first, validation_data=val, verbose=verbosity(), shuffle=False,
             class_weight=weights,
             callbacks=[checkpoint, tensorboard(instance), *fault_points("fine-tune")])
    return full


def fine_tune_rate(args):
    """``fine-tune-learning-rate`` of the run as a number (:func:`.head.run_fine_tune_rate`)."""
    from vergeml.models.imagenet.training.head import run_fine_tune_rate
    return run_fine_tune_rate(args)


def phase_end(state, phase):
    """The number of the last epoch of ``phase`` in the history (0 if none)."""
    return max((row["epoch"] for row in state.history if row.get("phase") == phase), default=0)
