"""The ``model`` column of ``ml list``: the architecture as users type it (``resnet-50``).

Runs store the Keras name of their backbone (``backbone: resnet50``) and the
``--architecture`` (and ``--variant``) they were given. The column shows the
typed spelling when it names that backbone, and a filter matches either
spelling: ``ml list model -eq resnet-50`` and ``model -eq resnet50`` find the
same runs, because an architecture's Keras name is its name without hyphens.
"""
from vergeml.settings.spelling import canonical

COLUMN = "model"


def loose(text):
    """A name without case, hyphens and underscores (``ResNet-50`` -> ``resnet50``)."""
    return str(text).lower().replace("-", "").replace("_", "")


def model_value(instance, missing):
    """The column's value for a run (an Instance or a list Row), or ``missing``.

    The typed ``architecture`` (or ``architecture-variant``, or the variant alone)
    when it names the stored backbone; else the backbone's Keras name (a family
    name such as ``densenet`` with variant ``auto``), the architecture, the model
    plugin.
    """
    meta, hyper = instance.metadata, instance.hyperparameters
    backbone, typed, variant = meta.get("backbone"), hyper.get("architecture"), hyper.get("variant")
    if isinstance(backbone, str) and backbone:
        for name in (typed, f"{typed}-{variant}", variant):
            if isinstance(name, str) and loose(name) == loose(backbone):
                return canonical(name)
    return backbone or typed or meta.get("model") or missing
