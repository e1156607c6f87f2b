"""``--class-weights``: how much each class's images count in the training loss.

An imbalanced folder (500 cats, 50 dogs) trained with every image counting the
same learns to say "cat": the minority class is lost while the accuracy still
looks good. Weighting each image by ``n / (classes x images of its class)``
(scikit-learn's ``balanced``) makes every class count the same in the loss.

- ``auto`` (the default): balanced weights when the largest class of the
  training split has at least :data:`AUTO_RATIO` times the images of the
  smallest, said in one line; else none.
- ``none``: every image counts the same (the original's behaviour).
- ``cat:1,dog:5``: the given weight per label, 1 for the labels not named.

A new run stores the weights it trained with (label -> weight, or ``none``),
so a resumed run never decides again.
"""
from vergeml.errors import ConfigError
from vergeml.settings.suggest import suggestion

AUTO_RATIO = 3.0
NONE = "none"


def resolve_class_weights(value, counts, labels):
    """The weight of each label, or None for none.

    Args:
        value: the option's value: ``auto``, ``none``, or a ``label:weight`` list
            (or comma string).
        counts: training images per class index.
        labels: class names in model output order.

    Returns:
        ``({label: weight}, note)``, or ``(None, note)``; ``note`` is the line to
        show (empty when there is nothing to say).

    Raises:
        ConfigError: an unknown label or a weight that is not a positive number.
    """
    items = value if isinstance(value, (list, tuple)) else str(value or "auto").split(",")
    items = [str(i).strip() for i in items if str(i).strip()]
    if items in ([], ["auto"]):
        return _auto(counts, labels)
    if items == [NONE]:
        return None, ""
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
    total, classes = sum(counts), len(labels)
    weights = {label: round(total / (classes * count), 6) if count else 1.0
               for label, count in zip(labels, counts)}
    big, small = counts.index(max(present)), counts.index(min(present))
    note = (f"class weights on: {labels[big]} has {counts[big]} training images, {labels[small]} "
            f"{counts[small]}; each class counts the same in the loss (--class-weights=none: off)")
    return weights, note


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


def keras_class_weight(weights, labels):
    """``{class index: weight}`` for Keras' ``fit(class_weight=...)``, or None."""
    if not isinstance(weights, dict):
        return None
    return {index: float(weights.get(label, 1.0)) for index, label in enumerate(labels)}
