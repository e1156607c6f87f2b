"""Old import path of the model plugin base, kept for one release:
use :mod:`vergeml.models.model_base`."""
from vergeml.models.model_base import *  # noqa: F401,F403
from vergeml.models.model_base import Model, Predictor  # noqa: F401
