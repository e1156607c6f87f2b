"""``--class-weights``: how much each class counts, in the loss or in the decisions.

An imbalanced folder (500 cats, 50 dogs) trained with every image counting the
same learns to say "cat": the minority class is lost while the accuracy still
looks good.

- ``auto`` (the default): when the largest class of the training split has at
  least :data:`AUTO_RATIO` times the images of the smallest, said in one line,
  the saved model's outputs are *adjusted* for the class frequencies: the
  softmax layer's bias is lowered by ``log(prior)`` of each class (post-hoc
  logit adjustment, Menon et al., "Long-tail learning via logit adjustment",
  ICLR 2021), so every class counts the same in the decisions; else none.
- ``adjusted``: that adjustment whatever the counts.
- ``none``: every image counts the same (the original's behaviour).
- ``cat:1,dog:5``: the given weight per label in the training loss, 1 for the
  labels not named.

Why auto adjusts the outputs instead of weighting the loss: on a 10:1 subset of
the ants and bees (11 bees to train on), weighting the loss by scikit-learn's
``balanced`` weights gave a balanced accuracy of 0.697 against 0.700 without
(3 seeds): ten-fold weights on a handful of images overfit them and swing the
decisions too far, and the best epoch is chosen on a validation split holding
two bees. The adjustment, applied to the best epoch of a run trained with every
image counting the same, gave 0.785 (``bench/bench_class_weights.py``).

A new run stores what it trained with (label -> weight, ``adjusted`` or
``none``), so a resumed run never decides again.
"""
import math

from vergeml.errors import ConfigError
from vergeml.settings.suggest import suggestion

AUTO_RATIO = 3.0
NONE = "none"
ADJUSTED = "adjusted"


def resolve_class_weights(value, counts, labels):
    """The weight of each label, or None for none.

    Args:
        value: the option's value: ``auto``, ``adjusted``, ``none``, or a
            ``label:weight`` list (or comma string).
        counts: training images per class index.
        labels: class names in model output order.

    Returns:
        ``({label: weight}, note)``, ``(ADJUSTED, note)`` or ``(None, note)``;
        ``note`` is the line to show (empty when there is nothing to say).

    Raises:
        ConfigError: an unknown label or a weight that is not a positive number.
    """
    items = value if isinstance(value, (list, tuple)) else str(value or "auto").split(",")
    items = [str(i).strip() for i in items if str(i).strip()]
    if items in ([], ["auto"]):
        return _auto(counts, labels)
    if items == [NONE]:
        return None, ""
    if items == [ADJUSTED]:
        return ADJUSTED, ""
    pairs = []
    for item in items:
        label, sep, weight = item.rpartition(":")
        if not sep:
            raise ConfigError(f"class-weights: expected auto, none or label:weight pairs, got {item!r}")
        pairs.append((label, weight))
    return _given(pairs, labels), ""


def _auto(counts, labels):
    present = [c for c in counts if c > 0]
    if len(present) < 2 or max(present) < AUTO_RATIO * min(present):
        return None, ""
    big, small = counts.index(max(present)), counts.index(min(present))
    note = (f"class balance on: {labels[big]} has {counts[big]} training images, {labels[small]} "
            f"{counts[small]}; the model's outputs are adjusted for the class frequencies, so each "
            f"class counts the same in its decisions (--class-weights=none: off)")
    return ADJUSTED, note


def _given(pairs, labels):
    weights = {label: 1.0 for label in labels}
    for label, raw in pairs:
        label = str(label)
        if label not in weights:
            raise ConfigError(f"class-weights: no class named {label!r}.{suggestion(label, labels)}",
                              hint=f"Classes: {', '.join(labels)}.")
        try:
            weight = float(raw)
        except (TypeError, ValueError):
            weight = -1.0
        if not weight > 0:
            raise ConfigError(f"class-weights: {label}: expected a weight > 0, got {raw!r}")
        weights[label] = weight
    return weights


def output_shift(counts):
    """What :func:`adjust_outputs` adds to each class's logit: ``-log(prior)``.

    Args:
        counts: training images per class index (a class without any keeps 0).

    Returns:
        list of floats, one per class.
    """
    total = sum(counts)
    return [-math.log(count / total) if count else 0.0 for count in counts]


def adjust_outputs(model, counts):
    """Lower each class's logit by ``log(prior)`` in the softmax layer of ``model``'s top.

    Args:
        model: the fused model (a layer named ``top`` holding the ``predictions``
            layer) or the top itself; changed in place.
        counts: training images per class index.

    Returns:
        ``{class index: shift}`` as applied.
    """
    from vergeml.models.imagenet.training.output_layer import shift_logits
    shift = output_shift(counts)
    shift_logits(model, shift)
    return dict(enumerate(shift))


def keras_class_weight(weights, labels):
    """``{class index: weight}`` for Keras' ``fit(class_weight=...)``, or None."""
    if not isinstance(weights, dict):
        return None
    return {index: float(weights.get(label, 1.0)) for index, label in enumerate(labels)}
