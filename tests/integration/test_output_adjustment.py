"""``--class-weights=auto`` on an imbalanced set (issue 25): the saved model's softmax is
``p / prior`` renormalised, for the top alone and for the fused model."""
import numpy as np
import pytest

from vergeml.models.imagenet.training.class_weights import adjust_outputs
from vergeml.models.imagenet.training.head import build_top


def _wrapped(top):
    import keras
    inputs = keras.Input((4,), name="image")
    return keras.Model(inputs, top(keras.layers.Identity(name="backbone")(inputs)))


@pytest.mark.parametrize("fused", [False, True])
def test_outputs_become_p_over_prior(fused):
    top = build_top(4, 3, 1, 0.0, seed=1)
    model = _wrapped(top) if fused else top
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    before = model.predict(x, verbose=0)
    counts = [60, 30, 10]
    shift = adjust_outputs(model, counts)
    after = model.predict(x, verbose=0)
    expected = before / (np.array(counts) / 100)
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(after, expected, rtol=1e-5, atol=1e-6)
    assert shift[2] == pytest.approx(np.log(10))
