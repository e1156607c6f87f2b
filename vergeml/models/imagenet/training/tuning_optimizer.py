"""The optimizer and loss of phase 2, as the fine-tune recipe (:mod:`.recipe`) says.

Keras optimizers have one learning rate for every variable; the recipe wants
lower rates deeper in the backbone. :func:`depth_scaled` wraps the run's
optimizer class so each variable's step uses the schedule's rate times its
own factor. Adam normalises gradients, so scaling them would change nothing:
the rate itself has to be scaled.
"""
import keras

from vergeml.models.imagenet.training.head import make_optimizer
from vergeml.models.imagenet.training.recipe import depth_rates


def tuning_optimizer(args, recipe, model, unfrozen, rate, steps):
    """The optimizer of phase 2.

    Args:
        args: the train options (``optimizer``, ``decay``, ``fine-tune-epochs``).
        recipe: the run's :class:`~vergeml.models.imagenet.training.recipe.Recipe`.
        model: the fused model, its layers already (un)frozen.
        unfrozen: the backbone layers unfrozen, input to output.
        rate: the top's peak learning rate.
        steps: optimizer steps per epoch.

    Returns:
        A Keras optimizer.
    """
    schedule = _schedule(recipe, rate, steps, args["fine-tune-epochs"])
    if schedule is None:
        return make_optimizer(args["optimizer"], rate, args["decay"])
    base, extra = (keras.optimizers.Adam, {}) if args["optimizer"] == "adam" \
        else (keras.optimizers.SGD, {"momentum": 0.9})  # as make_optimizer's
    if recipe.depth_decay == 1.0:
        return base(learning_rate=schedule, **extra)
    return depth_scaled(base)(_factors(model, unfrozen, recipe.depth_decay),
                              learning_rate=schedule, **extra)


def _schedule(recipe, rate, steps, epochs):
    """Warm-up then cosine decay over the phase's steps; None for a constant rate."""
    if recipe.schedule != "cosine":
        return None
    warmup = min(recipe.warmup_epochs, max(0, epochs - 1)) * steps
    return keras.optimizers.schedules.CosineDecay(
        0.0, max(1, epochs * steps - warmup), warmup_target=rate, warmup_steps=warmup)


def _factors(model, unfrozen, decay):
    """Per trainable variable of ``model``, its rate factor: by depth in the backbone, 1 elsewhere."""
    by_variable = {}
    for layer, factor in zip(unfrozen, depth_rates(len(unfrozen), decay)):
        for variable in layer.trainable_weights:
            by_variable[id(variable)] = factor
    return [by_variable.get(id(v), 1.0) for v in model.trainable_variables]


def depth_scaled(base):
    """A subclass of the optimizer class ``base`` whose step for variable ``i`` uses
    the rate times ``factors[i]`` (``factors`` in ``model.trainable_variables`` order)."""

    class DepthScaled(base):
        def __init__(self, factors, **kwargs):
            super().__init__(**kwargs)
            self.factors = list(factors)

        def update_step(self, gradient, variable, learning_rate):
            factor = self.factors[self._get_variable_index(variable)]
            return super().update_step(gradient, variable, learning_rate * factor)

    DepthScaled.__name__ = f"DepthScaled{base.__name__}"
    return DepthScaled


def tuning_loss(recipe, num_classes):
    """Sparse cross-entropy, with the recipe's label smoothing when it has one."""
    if not recipe.label_smoothing:
        return "sparse_categorical_crossentropy"
    smoothing = recipe.label_smoothing

    def smoothed_cross_entropy(y_true, y_pred):
        targets = keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"),
                                    num_classes)
        return keras.losses.categorical_crossentropy(targets, y_pred, label_smoothing=smoothing)
    return smoothed_cross_entropy
