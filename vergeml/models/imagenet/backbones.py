"""The table of ImageNet backbones (every ``keras.applications`` CNN).

Pure data and validation: this module must not import Keras or TensorFlow,
because ``ml help`` and option parsing import it. Constructors and
preprocessing functions are dotted strings, resolved by :func:`load_object`
only when a model is built.
"""
import importlib
import warnings
from dataclasses import dataclass

from vergeml.errors import ConfigError
from vergeml.settings.spelling import canonical
from vergeml.settings.suggest import suggestion


class SizeWarning(UserWarning):
    """An input size the ImageNet weights were not trained for."""


@dataclass(frozen=True)
class Backbone:
    """One ImageNet CNN.

    Args:
        name: VergeML name, e.g. ``resnet-50``.
        keras_name: Keras name shown by ``ml list``, e.g. ``resnet50``.
        constructor: dotted path of the application, ``keras.applications.ResNet50``.
        preprocess: dotted path of its ``preprocess_input``.
        default_size: input size the ImageNet weights were trained at.
        min_size: smallest input size Keras accepts.
        fixed_size: True when the ImageNet weights exist for ``default_size``
            only (other sizes still build without the top, but the features
            drift from what the weights learned).
        sizes: sizes with their own ImageNet weights file, or None.
        alphas: allowed width multipliers with ImageNet weights, or None
            when the architecture has no ``alpha``.
        weights_pattern: the no-top weights file name Keras caches in
            ``$KERAS_HOME/models``; fields ``{alpha}``, ``{alpha_text}``, ``{rows}``.
        weights_url: download folder of that file.
        remote_name: file name at ``weights_url`` when it differs.
    """

    name: str
    keras_name: str
    constructor: str
    preprocess: str
    default_size: int = 224
    min_size: int = 32
    fixed_size: bool = True
    sizes: tuple = None
    alphas: tuple = None
    weights_pattern: str = ""
    weights_url: str = ""
    remote_name: str = ""


_APPS = "keras.applications."
_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
_KERNELS = "_weights_tf_dim_ordering_tf_kernels_notop.h5"


def _app(name, keras_name, cls, module, folder, weights, **kw):
    """Shorthand for a table row."""
    return Backbone(name=name, keras_name=keras_name, constructor=_APPS + cls,
                    preprocess=f"{_APPS}{module}.preprocess_input",
                    weights_pattern=weights, weights_url=_URL + folder + "/", **kw)


def _rows():
    rows = [
        _app("resnet-50", "resnet50", "ResNet50", "resnet50", "resnet", "resnet50" + _KERNELS),
        _app("resnet-101", "resnet101", "ResNet101", "resnet", "resnet", "resnet101" + _KERNELS),
        _app("resnet-152", "resnet152", "ResNet152", "resnet", "resnet", "resnet152" + _KERNELS),
        _app("resnet-50-v2", "resnet50v2", "ResNet50V2", "resnet_v2", "resnet",
             "resnet50v2" + _KERNELS),
        _app("resnet-101-v2", "resnet101v2", "ResNet101V2", "resnet_v2", "resnet",
             "resnet101v2" + _KERNELS),
        _app("resnet-152-v2", "resnet152v2", "ResNet152V2", "resnet_v2", "resnet",
             "resnet152v2" + _KERNELS),
        _app("inception-v3", "inceptionv3", "InceptionV3", "inception_v3", "inception_v3",
             "inception_v3" + _KERNELS, default_size=299, min_size=75),
        _app("inception-resnet-v2", "inceptionresnetv2", "InceptionResNetV2",
             "inception_resnet_v2", "inception_resnet_v2", "inception_resnet_v2" + _KERNELS,
             default_size=299, min_size=75),
        _app("xception", "xception", "Xception", "xception", "xception",
             "xception" + _KERNELS, default_size=299, min_size=71),
        _app("mobilenet", "mobilenet", "MobileNet", "mobilenet", "mobilenet",
             "mobilenet_{alpha_text}_{rows}_tf_no_top.h5", fixed_size=False,
             sizes=(128, 160, 192, 224), alphas=(0.25, 0.5, 0.75, 1.0)),
        _app("mobilenet-v2", "mobilenetv2", "MobileNetV2", "mobilenet_v2", "mobilenet_v2",
             "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{rows}_no_top.h5",
             fixed_size=False, sizes=(96, 128, 160, 192, 224),
             alphas=(0.35, 0.5, 0.75, 1.0, 1.3, 1.4)),
        _app("mobilenet-v3-small", "mobilenetv3small", "MobileNetV3Small", "mobilenet_v3",
             "mobilenet_v3", "weights_mobilenet_v3_small_224_{alpha}_float_no_top_v2.h5",
             alphas=(0.75, 1.0)),
        _app("mobilenet-v3-large", "mobilenetv3large", "MobileNetV3Large", "mobilenet_v3",
             "mobilenet_v3", "weights_mobilenet_v3_large_224_{alpha}_float_no_top_v2.h5",
             alphas=(0.75, 1.0)),
        _app("vgg-16", "vgg16", "VGG16", "vgg16", "vgg16", "vgg16" + _KERNELS),
        _app("vgg-19", "vgg19", "VGG19", "vgg19", "vgg19", "vgg19" + _KERNELS),
    ]
    rows += [_app(f"densenet-{n}", f"densenet{n}", f"DenseNet{n}", "densenet", "densenet",
                  f"densenet{n}" + _KERNELS) for n in (121, 169, 201)]
    rows += [
        _app("nasnet-mobile", "nasnetmobile", "NASNetMobile", "nasnet", "nasnet",
             "nasnet_mobile_no_top.h5", remote_name="NASNet-mobile-no-top.h5"),
        _app("nasnet-large", "nasnetlarge", "NASNetLarge", "nasnet", "nasnet",
             "nasnet_large_no_top.h5", remote_name="NASNet-large-no-top.h5", default_size=331),
    ]
    b_sizes = (224, 240, 260, 300, 380, 456, 528, 600)
    rows += [Backbone(name=f"efficientnet-b{i}", keras_name=f"efficientnetb{i}",
                      constructor=f"{_APPS}EfficientNetB{i}",
                      preprocess=_APPS + "efficientnet.preprocess_input",
                      default_size=size, weights_pattern=f"efficientnetb{i}_notop.h5",
                      weights_url="https://storage.googleapis.com/keras-applications/")
             for i, size in enumerate(b_sizes)]
    v2_sizes = {"b0": 224, "b1": 240, "b2": 260, "b3": 300, "s": 384, "m": 480, "l": 480}
    rows += [_app(f"efficientnet-v2-{v}", f"efficientnetv2{v}", f"EfficientNetV2{v.upper()}",
                  "efficientnet_v2", "efficientnet_v2", f"efficientnetv2-{v}_notop.h5",
                  default_size=size) for v, size in v2_sizes.items()]
    convnexts = {"tiny": "Tiny", "small": "Small", "base": "Base", "large": "Large",
                 "xlarge": "XLarge"}
    rows += [_app(f"convnext-{v}", f"convnext{v}", f"ConvNeXt{cls}", "convnext",
                  "convnext", f"convnext_{v}_notop.h5") for v, cls in convnexts.items()]
    return rows


BACKBONES = {b.name: b for b in _rows()}

# A family name plus --variant picks a row: densenet + 169 -> densenet-169.
# The value is what variant `auto` means.
FAMILIES = {
    "densenet": "121",
    "nasnet": "large",
    "efficientnet": "b0",
    "efficientnet-v2": "b0",
    "convnext": "tiny",
    "mobilenet-v3": "large",
}

# Spellings the original VergeML accepted.
ALIASES = {"vgg16": "vgg-16", "vgg19": "vgg-19"}

_MOBILENET_ALPHA_TEXT = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}


def architecture_names(aliases=True):
    """Names accepted for ``--architecture``.

    Args:
        aliases: also list family names (``densenet``) and old spellings (``vgg16``).

    Returns:
        list of str, table order first.
    """
    names = list(BACKBONES)
    if aliases:
        names += list(FAMILIES) + list(ALIASES)
    return names


def _norm(text):
    return canonical(text)


def get_backbone(name, variant="auto"):
    """Look up a backbone by name and variant.

    Args:
        name: a table name, a family name (``densenet``, ``nasnet`` ...)
            or an alias (``vgg16``).
        variant: ``auto`` or the family member (``169``, ``densenet-169``, ``mobile``).

    Returns:
        Backbone.

    Raises:
        ConfigError: unknown name, or a variant that does not fit it.
    """
    key = _norm(name)
    variant = "auto" if variant is None else _norm(variant)
    key = ALIASES.get(key, key)
    if key in FAMILIES:
        return _family_member(key, variant)
    if key not in BACKBONES:
        hint = suggestion(key, architecture_names())
        raise ConfigError(f"unknown architecture {name}.{hint}")
    if variant != "auto" and _family_member_name(_family_of(key), variant) != key:
        raise ConfigError(f"invalid variant {variant} for architecture {key} "
                          "(use --variant with a family name such as densenet or nasnet)")
    return BACKBONES[key]


def _family_of(name):
    for family in FAMILIES:
        if name.startswith(family + "-") and name[len(family) + 1:] in _members(family):
            return family
    return None


def _members(family):
    """Variant spellings of a family: ``['121', '169', '201']``."""
    prefix = family + "-"
    return [n[len(prefix):] for n in BACKBONES
            if n.startswith(prefix) and "-" not in n[len(prefix):]]


def _family_member_name(family, variant):
    if family is None:
        return None
    for prefix in (family + "-", family.replace("-", "")):
        if variant.startswith(prefix):
            variant = variant[len(prefix):].lstrip("-")
    return f"{family}-{variant}"


def _family_member(family, variant):
    if variant == "auto":
        variant = FAMILIES[family]
    name = _family_member_name(family, variant)
    if name not in BACKBONES or _family_of(name) != family:
        members = _members(family)
        hint = suggestion(variant, members)
        raise ConfigError(f"invalid {family} variant {variant}: expected one of "
                          f"{', '.join(members)} or auto.{hint}".rstrip("."))
    return BACKBONES[name]


def _weights_kind(weights):
    """``imagenet``, ``none`` or ``file`` for a --weights value."""
    if weights is None or _norm(weights) == "none":
        return "none"
    return "imagenet" if _norm(weights) == "imagenet" else "file"


def resolve_alpha(backbone, alpha=1.0, weights="imagenet"):
    """Validate the width multiplier.

    Args:
        backbone: Backbone.
        alpha: float, or None/``auto`` for 1.0.
        weights: ``imagenet``, ``none`` or a path; only ImageNet weights
            restrict alpha to ``backbone.alphas``.

    Returns:
        float alpha (1.0 for architectures without one).

    Raises:
        ConfigError: alpha invalid for this backbone.
    """
    if alpha is None or (isinstance(alpha, str) and _norm(alpha) == "auto"):
        alpha = 1.0
    try:
        alpha = float(alpha)
    except (TypeError, ValueError):
        raise ConfigError(f"invalid alpha value: {alpha}") from None
    if backbone.alphas is None:
        if alpha != 1.0:
            having = ", ".join(b.name for b in BACKBONES.values() if b.alphas)
            raise ConfigError(f"invalid alpha value: {alpha:g}: {backbone.name} has no "
                              f"alpha; only {having} do")
        return alpha
    if alpha <= 0:
        raise ConfigError(f"invalid alpha value: {alpha:g}: must be > 0")
    if _weights_kind(weights) == "imagenet" and alpha not in backbone.alphas:
        allowed = ", ".join(f"{a:g}" for a in backbone.alphas)
        raise ConfigError(f"invalid alpha value: {alpha:g}: {backbone.name} has ImageNet "
                          f"weights for alpha {allowed}")
    return alpha


def resolve_size(backbone, size="auto", weights="imagenet"):
    """Turn ``--size`` into pixels.

    ``auto`` is the size the weights were trained at (331 for nasnet-large).
    An explicit size must be at least ``min_size``; with ImageNet weights a
    size they were not trained for is allowed (Keras builds any size without
    the top) but warns with :class:`SizeWarning` (see :func:`size_note`).

    Args:
        backbone: Backbone.
        size: int, numeric string, None or ``auto``.
        weights: ``imagenet``, ``none`` or a path.

    Returns:
        int size in pixels.

    Raises:
        ConfigError: not an integer, or smaller than the backbone accepts.
    """
    if size is None or (isinstance(size, str) and _norm(size) == "auto"):
        return backbone.default_size
    try:
        if isinstance(size, bool) or (isinstance(size, float) and not size.is_integer()):
            raise ValueError
        size = int(size)
    except (TypeError, ValueError):
        raise ConfigError(f"invalid size: {size}: expected an integer or auto") from None
    if size < backbone.min_size:
        raise ConfigError(f"invalid size: {size}: {backbone.name} needs at least "
                          f"{backbone.min_size} pixels")
    note = size_note(backbone, size, weights)
    if note:
        warnings.warn(note, SizeWarning, stacklevel=2)
    return size


def size_note(backbone, size, weights="imagenet"):
    """A one-line caution when ImageNet weights were not trained at ``size``.

    Returns:
        str, or None when the size matches the weights (or weights are not ImageNet).
    """
    if _weights_kind(weights) != "imagenet":
        return None
    if backbone.sizes:
        if size in backbone.sizes:
            return None
        return (f"{backbone.name} has ImageNet weights for sizes "
                f"{', '.join(map(str, backbone.sizes))}; size {size} uses the 224 px weights")
    if backbone.fixed_size and size != backbone.default_size:
        return (f"{backbone.name} ImageNet weights were trained at {backbone.default_size} px; "
                f"features at {size} px may be less accurate")
    return None


def load_object(dotted):
    """Import ``package.module.attr`` (imports Keras: call only when building)."""
    module, _, attr = dotted.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        # keras.applications.resnet50 etc. are lazily exposed attributes of
        # keras.applications, not always importable as modules.
        parent, _, child = module.rpartition(".")
        return getattr(getattr(importlib.import_module(parent), child), attr)
