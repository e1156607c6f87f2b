"""Phase 2 of ``ml train``: fine-tune the backbone end to end on images.

Phase 1 trained the top on cached features. Here the backbone and that top
are joined into one model without retraining the top (a Keras model called
like a layer reuses its weights), the last ``fine-tune-layers`` layers of the
backbone are unfrozen (``auto``: whole blocks, :mod:`.recipe`), and the whole
is trained on augmented images at low rates, lower with depth, on the schedule
of the run's recipe (:mod:`.tuning_optimizer`). BatchNormalization stays in inference mode throughout:
the backbone is called with ``training=False`` and its BN layers stay frozen,
since updating their statistics on a small data set wrecks the features.

The images come from the project cache (:mod:`.image_arrays`).
"""


def weighted_layers(backbone):
    """The backbone's layers that hold weights, input to output, BatchNormalization left out."""
    import keras
    return [l for l in _flat_layers(backbone)
            if l.weights and not isinstance(l, keras.layers.BatchNormalization)]


def unfreeze(backbone, layers):
    """Make the last ``layers`` layers that hold weights trainable; BatchNormalization stays frozen.

    Args:
        backbone: the feature extractor's Keras model.
        layers: how many weight-holding layers (BatchNormalization not counted)
            to unfreeze from the end, or ``all``.

    Returns:
        The layers unfrozen, input to output.
    """
    weighted = weighted_layers(backbone)
    chosen = weighted if layers == "all" else weighted[-int(layers):] if int(layers) else []
    chosen_ids = {id(layer) for layer in chosen}
    backbone.trainable = True  # a layer trains only if its containers do too
    for layer in _flat_layers(backbone):
        if layer is not backbone:
            layer.trainable = id(layer) in chosen_ids
    return chosen


def _flat_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:
            yield from _flat_layers(layer)
        else:
            yield layer


def layers_to_unfreeze(backbone, args, recipe):
    """``fine-tune-layers`` as a count or ``all``: ``auto`` is the recipe's whole blocks."""
    from vergeml.models.imagenet.training.recipe import whole_blocks
    layers = args["fine-tune-layers"]
    if layers != "auto":
        return layers
    return whole_blocks([l.name for l in weighted_layers(backbone)], recipe.blocks)


def fine_tune(top, extractor, dataset, args, instance, state, seed):
    """Phase 2: train backbone and top end to end on augmented images, as the run's recipe says.

    Starts where ``state`` stands: after phase 1 (the top holds the best
    phase-1 weights), or inside phase 2 when resuming (the last epoch's
    weights and optimizer state are loaded).

    Returns:
        The fused model (backbone + top), holding the last epoch's weights.
    """
    import keras
    from vergeml.models.imagenet.training.augment import build_augmenter, is_auto, parse_augment
    from vergeml.models.imagenet.training.callbacks import EpochCheckpoint, loss_metrics, tensorboard
    from vergeml.models.imagenet.training.class_weights import keras_class_weight
    from vergeml.models.imagenet.training.head import fault_points, load_last, verbosity
    from vergeml.models.imagenet.training.image_arrays import split_images
    from vergeml.models.imagenet.training.pipeline import epoch_dataset, image_transform, steps_per_epoch
    from vergeml.models.imagenet.training.recipe import phase_margin
    from vergeml.models.imagenet.training.run_state import restore_seeds
    from vergeml.models.imagenet.training.tuning_optimizer import tuning_loss, tuning_optimizer
    recipe = run_recipe(instance)
    arrays = {split: split_images(dataset, split, extractor.size, args["resize"])
              for split in ("train", "val")}
    full = extractor.full_model(top)
    unfrozen = unfreeze(extractor.model, layers_to_unfreeze(extractor.model, args, recipe))
    first, batch = state.epochs_done, recipe.batch_size or args["batch-size"]
    steps = steps_per_epoch(len(arrays["train"][0]), batch)
    full.compile(optimizer=tuning_optimizer(args, recipe, full, unfrozen, fine_tune_rate(args), steps),
                 loss=tuning_loss(recipe, len(dataset.labels)), metrics=loss_metrics())
    augment = recipe.augment if is_auto(args["augment"]) else args["augment"]
    augmenter = build_augmenter(parse_augment(augment), seed)
    if state.phase == "fine-tune":
        load_last(full, instance, state)
        restore_seeds(state.seeds, full)  # the augmenter is reseeded per batch (pipeline.py)
    total = phase_end(state, "top") + args["fine-tune-epochs"]
    train = epoch_dataset(arrays["train"], batch, seed, first, total,
                          transform=image_transform(extractor.preprocess, augmenter))
    val = epoch_dataset(arrays["val"], batch, seed, 0, 1, shuffle=False,
                        transform=image_transform(extractor.preprocess)) \
        if len(arrays["val"][0]) else None
    checkpoint = EpochCheckpoint(instance, state, "fine-tune",
                                 patience=args["early-stopping-patience"] if val is not None else 0,
                                 min_delta=args["early-stopping-delta"],
                                 margin=phase_margin(recipe.tolerance, len(arrays["val"][0])),
                                 last_epoch=total if recipe.keep == "last" else None)
    print(f"Fine-tuning {len(unfrozen)} layers of {extractor.backbone.name} and the top "
          f"(epochs {first + 1}-{total}, learning rate {fine_tune_rate(args):g}; "
          f"{recipe.describe()}; augment {','.join(map(str, augment)) or 'none'})")
    keras.utils.set_random_seed(seed + first)
    weights = keras_class_weight(args.get("class-weights"), instance.hyperparameters.get("labels"))
    full.fit(train, steps_per_epoch=steps, epochs=total,
             initial_epoch=first, validation_data=val, verbose=verbosity(), shuffle=False,
             class_weight=weights,
             callbacks=[checkpoint, tensorboard(instance), *fault_points("fine-tune")])
    return full


def run_recipe(instance):
    """The recipe the run stored when it started; :data:`.recipe.LEGACY` for a run
    stored before recipes (it resumes as it started)."""
    from vergeml.models.imagenet.training.recipe import LEGACY, Recipe
    stored = instance.metadata.get(RECIPE_KEY)
    return Recipe.from_dict(stored) if stored else LEGACY


RECIPE_KEY = "fine_tune_recipe"


def fine_tune_rate(args):
    """``fine-tune-learning-rate`` of the run as a number (:func:`.head.run_fine_tune_rate`)."""
    from vergeml.models.imagenet.training.head import run_fine_tune_rate
    return run_fine_tune_rate(args)


def phase_end(state, phase):
    """The number of the last epoch of ``phase`` in the history (0 if none)."""
    return max((row["epoch"] for row in state.history if row.get("phase") == phase), default=0)
