"""Augmentation of training images during fine-tuning.

The ``augment`` option names Keras preprocessing layers, each with an
optional strength: ``flip-horizontal,rotate:0.1,zoom:0.15``. They run in the
``tf.data`` pipeline of the fine-tune phase, on float images in 0..255 before
the backbone's preprocessing, and never inside a saved or exported model:
Keras calls augmentation layers with ``training=True`` by default, so a model
holding them would keep augmenting after export.

Parsing is pure Python (option validation and ``ml help`` use it); Keras is
imported only by :func:`build_augmenter`.
"""
from dataclasses import dataclass

from vergeml.errors import ConfigError
from vergeml.settings.suggest import suggestion


@dataclass(frozen=True)
class Augmentation:
    """One augmentation choice.

    Args:
        name: what the user types.
        default: strength when none is given (None: takes no strength).
        limit: largest strength allowed.
        help: one line for the docs.
    """

    name: str
    default: float = None
    limit: float = 1.0
    help: str = ""


AUGMENTATIONS = {a.name: a for a in (
    Augmentation("flip-horizontal", help="mirror left-right with probability 1/2"),
    Augmentation("flip-vertical", help="mirror top-bottom with probability 1/2"),
    Augmentation("rotate", 0.05, 0.5, "rotate by up to strength x 360 degrees"),
    Augmentation("zoom", 0.1, 0.9, "zoom in or out by up to the strength (a fraction)"),
    Augmentation("translate", 0.1, 0.5, "shift by up to the strength (a fraction of the size)"),
    Augmentation("contrast", 0.2, 1.0, "change contrast by up to the strength (a fraction)"),
    Augmentation("brightness", 0.2, 1.0, "change brightness by up to the strength (a fraction)"),
    Augmentation("crop", 0.25, 0.9, "random resized crop: keep 1 - strength to all of each side, "
                                    "scaled back to size"),
    Augmentation("saturation", 0.2, 1.0, "change colour saturation by up to the strength"),
    Augmentation("erase", 0.25, 1.0, "erase a random patch with noise, with probability strength"),
)}

# auto: the fine-tune recipe's choice (:mod:`.recipe`), today AUTO_AUGMENT.
AUTO = "auto"
DEFAULT_AUGMENT = (AUTO,)
AUTO_AUGMENT = ("flip-horizontal", "crop:0.25", "brightness:0.2", "contrast:0.2",
                "saturation:0.2", "erase:0.25")
# The default before the recipe: what a run stored without a recipe trained with.
LEGACY_AUGMENT = ("flip-horizontal", "rotate:0.05", "zoom:0.1")


def is_auto(items):
    """True when ``augment`` leaves the choice to the recipe (``auto``, alone)."""
    return [str(i).strip().lower() for i in items or ()] == [AUTO]


def parse_augment(items):
    """Turn ``augment`` items into ``(name, strength)`` pairs.

    Args:
        items: strings ``name`` or ``name:strength`` (``name=strength`` too),
            or ``{name: strength}`` mappings from YAML; ``none`` alone means
            no augmentation, ``auto`` alone the recipe's (expanded by the caller).

    Returns:
        list of ``(name, strength or None)``.

    Raises:
        ConfigError: an unknown name or a strength out of range.
    """
    pairs = []
    for item in items or ():
        for name, strength in _split(item):
            if name in ("none", AUTO):
                continue
            choice = AUGMENTATIONS.get(name)
            if choice is None:
                hint = suggestion(name, list(AUGMENTATIONS))
                raise ConfigError(f"augment: unknown augmentation '{name}'.{hint}",
                                  hint="Choose from: " + ", ".join(AUGMENTATIONS) + ".")
            pairs.append((name, _strength(choice, strength)))
    return pairs


def _split(item):
    if isinstance(item, dict):
        return [(str(k).strip().lower(), v) for k, v in item.items()]
    text = str(item).strip().lower()
    for sep in (":", "="):
        if sep in text:
            name, _, value = text.partition(sep)
            return [(name.strip(), value.strip())]
    return [(text, None)]


def _strength(choice, value):
    if choice.default is None:
        if value not in (None, ""):
            raise ConfigError(f"augment: {choice.name} takes no strength (got {value})")
        return None
    if value in (None, ""):
        return choice.default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"augment: {choice.name}: expected a number, got {value!r}") from None
    if not 0 < number <= choice.limit:
        raise ConfigError(f"augment: {choice.name}: expected a strength in (0, {choice.limit}], "
                          f"got {value}")
    return number


def build_augmenter(pairs, seed):
    """A ``keras.layers.Pipeline`` of the augmentations, or None when there are none.

    Args:
        pairs: from :func:`parse_augment`.
        seed: base seed; each layer gets its own, so runs are reproducible.
    """
    if not pairs:
        return None
    import keras
    layers = keras.layers
    make = {
        "flip-horizontal": lambda s, seed: layers.RandomFlip("horizontal", seed=seed),
        "flip-vertical": lambda s, seed: layers.RandomFlip("vertical", seed=seed),
        "rotate": lambda s, seed: layers.RandomRotation(s, seed=seed),
        "zoom": lambda s, seed: layers.RandomZoom(s, seed=seed),
        "translate": lambda s, seed: layers.RandomTranslation(s, s, seed=seed),
        "contrast": lambda s, seed: layers.RandomContrast(s, seed=seed),
        "brightness": lambda s, seed: layers.RandomBrightness(s, seed=seed),
        # Zooming in only, each side on its own: a crop of random size and aspect.
        "crop": lambda s, seed: layers.RandomZoom((-s, 0.0), (-s, 0.0), seed=seed),
        # Keras' saturation factor 0.5 leaves an image as it is.
        "saturation": lambda s, seed: layers.RandomSaturation((0.5 - s / 2, 0.5 + s / 2), seed=seed),
        "erase": lambda s, seed: layers.RandomErasing((s, s), scale=(0.02, 0.25), seed=seed),
    }
    return layers.Pipeline([make[name](strength, seed + index)
                            for index, (name, strength) in enumerate(pairs)], name="augment")


# Draws an augmentation layer makes per batch stay far below this (RandomZoom makes two):
# batch k's draws use generator counters k * DRAWS_PER_BATCH onwards, never another batch's.
DRAWS_PER_BATCH = 64


def reseed(augmenter, key):
    """Set each augmentation layer's generator to a state fixed by its seed and ``key``.

    Keras' generators advance with every draw, and the parallel calls of a
    ``tf.data`` map advanced them in whatever order the threads ran: the same
    seed augmented differently from run to run. Reseeded per batch, a batch's
    augmentation depends on (layer seed, batch key) alone, so a run repeats
    and a resumed run augments as the uninterrupted run did.

    Args:
        augmenter: from :func:`build_augmenter`.
        key: the batch's number over the whole run (a scalar int64 tensor).
    """
    import tensorflow as tf
    for layer in augmenter.layers:
        generator = getattr(layer, "generator", None)
        if generator is None:
            continue
        state = generator.state
        counter = tf.cast(key, state.dtype) * DRAWS_PER_BATCH
        state.assign(tf.stack([tf.constant(layer.seed or 0, state.dtype), counter]))
