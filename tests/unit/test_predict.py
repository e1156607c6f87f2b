"""Predict's pieces that need no model: the OpenAPI description of the REST
service and the error for a missing TensorFlow. ``ml @name predict`` and the
Predictor on a real (fabricated) Keras model are in tests/integration/test_predict.py.
"""
from types import SimpleNamespace

import pytest

from vergeml.errors import VergeMLError


def test_openapi_shows_a_fractional_body_limit():
    from vergeml.models.imagenet.imagenet_options import PREDICT_OPTIONS
    from vergeml.services.rest import MB, openapi_spec
    predictor = SimpleNamespace(name="tiny-tron", labels=["a", "b"], options=PREDICT_OPTIONS,
                                defaults={"resize": "fill"})
    spec = openapi_spec(predictor, MB // 2)
    post = spec["paths"]["/predict"]["post"]
    assert post["responses"]["413"]["description"] == "Body over 0.5 MB"
    resize = post["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]["resize"]
    assert resize["enum"] == ["fill", "aspect-fill", "aspect-fit"]


def test_backend_reports_a_missing_tensorflow(monkeypatch):
    import sys
    from vergeml.runtimes import tensorflow_setup as backend
    monkeypatch.setattr(backend, "_loaded", None)
    monkeypatch.setitem(sys.modules, "keras", None)  # import keras -> ImportError
    with pytest.raises(VergeMLError, match="cannot import TensorFlow/Keras") as info:
        backend.load()
    assert "pip install tensorflow" in info.value.hint
