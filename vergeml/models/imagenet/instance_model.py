"""What prediction and export read from a trained instance: its labels, its
``data.preprocess`` operations, its saved Keras model, the model's input size
and the backbone's ``preprocess_input``. Keras is imported only by the
functions that load a model."""
from pathlib import Path

from vergeml.errors import VergeMLError
from vergeml.models.imagenet.image_decoder import error_text


def read_labels(instance):
    """The class names of ``labels.txt``, in output order."""
    path = Path(instance.labels_path)
    if not path.is_file():
        raise VergeMLError(f"labels.txt not found: {path}", hint=no_model_hint(instance))
    labels = instance.labels()
    if not labels:
        raise VergeMLError(f"no labels in {path}")
    return list(labels)


def no_model_hint(instance):
    """The hint for an instance without a saved model."""
    status = getattr(instance, "status", None)
    state = f" ({status})" if status else ""
    return f"@{instance.name}{state} has no saved model; run 'ml list' to find a finished instance."


def operations(instance):
    """The ``data.preprocess`` operations the instance was trained with."""
    from vergeml.data.operations import parse_operations
    entries = (instance.metadata.get("data") or {}).get("preprocess") or []
    return parse_operations(entries, where=f"@{instance.name} data.preprocess")


def load_model(instance, settings=None):
    """The instance's ``model.keras``, loaded uncompiled.

    Args:
        instance: a :class:`vergeml.instances.Instance`.
        settings: resolved global options for :func:`vergeml.runtimes.tensorflow_setup.load`.
    """
    path = Path(instance.model_path)
    if not path.is_file():
        raise VergeMLError(f"model.keras not found: {path}", hint=no_model_hint(instance))
    from vergeml.runtimes import tensorflow_setup
    _, keras = tensorflow_setup.load(settings)
    try:
        return keras.saving.load_model(str(path), compile=False)
    except Exception as err:  # noqa: BLE001 - a damaged file is a user-level failure
        raise VergeMLError(f"cannot load {path}: {error_text(err)}") from None


def split_fused(model, purpose="use it"):
    """The backbone and the top of a fused classifier (``model.keras``, or what
    :meth:`~vergeml.models.imagenet.extraction.features.FeatureExtractor.full_model` builds).

    Args:
        model: ``input -> backbone -> top``, each a nested ``keras.Model``.
        purpose: what the caller does with them, for the error (``draw heatmaps``).

    Returns:
        ``(backbone, top)``.

    Raises:
        VergeMLError: ``model`` is not made of exactly those two models.
    """
    import keras
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) != 2 or len(model.layers) != 3:
        raise VergeMLError(f"cannot {purpose} for {model.name}: expected a backbone and a "
                           f"top model, found layers {', '.join(x.name for x in model.layers)}")
    return nested[0], nested[1]


def input_size(model, hyper):
    """The square input size: from the model when fixed, else the hyperparameters."""
    shape = model.input_shape
    if isinstance(shape, list):
        shape = shape[0]
    if shape and len(shape) == 4 and shape[1]:
        return int(shape[1])
    size = hyper.get("size")
    if isinstance(size, int):
        return size
    raise VergeMLError("cannot tell the model's input size (hyperparameters.size is missing)")


def preprocess_function(hyper):
    """The backbone's ``preprocess_input``, as the backbone table names it."""
    from vergeml.models.imagenet.backbones import get_backbone, load_object
    from vergeml.runtimes import tensorflow_setup
    tensorflow_setup.load()  # already loaded by load_model; importing Keras quietly either way
    name = hyper.get("architecture")
    if not name:
        raise VergeMLError("the instance does not record its architecture")
    return load_object(get_backbone(name, hyper.get("variant") or "auto").preprocess)
