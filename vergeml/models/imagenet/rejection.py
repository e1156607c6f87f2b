"""Unknown rejection at prediction time: ``unknown`` for an image unlike every class.

At the end of ``ml train`` an unknown score is fitted on the training and
validation images' features (:mod:`vergeml.trust.ood_score`, stored in the
instance as :data:`OOD_FILE`) with its threshold (the results'
``reject_threshold``). For prediction the score is computed inside the model
(:mod:`vergeml.runtimes.score_layer`):
:func:`scored_model` puts it after the class probabilities as one more
output column, so the Keras predictor and every export (ONNX, LiteRT,
SavedModel, OpenVINO) compute it in their own runtime and give the same
decisions. An instance trained before rejection existed has neither, and
predicts as it always did.

The per-request side (``--reject``, the record fields) is plain Python.
"""
from pathlib import Path

from vergeml.console import warn
from vergeml.errors import UsageError

OOD_FILE = "ood.npz"
AUTO, OFF = "auto", "off"


def ood_path(instance):
    """Where an instance keeps its fitted unknown score."""
    return Path(instance.path) / OOD_FILE


def stored_threshold(instance):
    """The threshold fitted in training, when the instance has its score; else None."""
    threshold = (instance.results or {}).get("reject_threshold")
    if threshold is None or not ood_path(instance).is_file():
        return None
    return float(threshold)


def load_ood(instance):
    """The instance's fitted :class:`vergeml.trust.ood_score.OODScore`."""
    import numpy as np
    from vergeml.trust.ood_score import OODScore
    with np.load(ood_path(instance)) as arrays:
        return OODScore.from_arrays(dict(arrays))


def no_rejection_note(name):
    """Say that ``@name`` cannot say unknown (once per predictor loaded)."""
    warn(f"@{name} has no unknown rejection (trained before it existed, or stopped before the "
         "end of its training): every image gets one of its classes")


def request_threshold(reject, fitted, name):
    """The threshold of one request.

    Args:
        reject: ``auto`` or None (the fitted threshold), ``off``, or a number.
        fitted: the instance's fitted threshold, or None when it has no score.
        name: the instance name, for the error.

    Returns:
        The threshold, or None for no rejection.

    Raises:
        UsageError: a number for an instance without the score.
    """
    if reject is None or reject == AUTO:
        return fitted
    if reject == OFF:
        return None
    if fitted is None:
        raise UsageError(f"reject={reject}: @{name} has no unknown score to compare with a "
                         "threshold (train it again to get one)")
    return float(reject)


def rejection_fields(score, threshold):
    """The fields a prediction record gains with rejection on."""
    return {"unknown": bool(score > threshold), "ood_score": round(float(score), 6),
            "threshold": round(float(threshold), 6)}


def scored_model(model, ood):
    """The fused classifier with the unknown score as one more output column.

    Args:
        model: the fused Keras model (``image -> backbone -> top``), as
            :meth:`~vergeml.models.imagenet.extraction.features.FeatureExtractor.full_model`
            builds it and ``model.keras`` holds it.
        ood: the fitted :class:`vergeml.trust.ood_score.OODScore`.

    Returns:
        ``keras.Model``: the same input, output ``(n, classes + 1)``.
    """
    import keras
    from vergeml.models.imagenet.instance_model import split_fused
    from vergeml.runtimes.score_layer import nearest_distance
    backbone, top = split_fused(model, "add the unknown score")
    inputs = keras.Input(model.input_shape[1:], name="image")
    features = backbone(inputs, training=False)
    probabilities = top(features, training=False)
    score = nearest_distance(features, ood.bank, ood.k)
    outputs = keras.layers.Concatenate(name="probabilities_and_unknown_score")([probabilities, score])
    return keras.Model(inputs, outputs, name=f"{model.name}_with_unknown_score")
