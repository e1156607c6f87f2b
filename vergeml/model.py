"""Old import path of the model plugin base, kept for one release:
use :mod:`vergeml.models.model_base`."""
from vergeml.models.model_base import LABELS_OPTION, Model, Predictor

__all__ = ["LABELS_OPTION", "Model", "Predictor"]
