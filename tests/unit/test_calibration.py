"""Expected calibration error and temperature scaling (vergeml/trust/calibration.py)."""
import numpy as np
import pytest

from vergeml.trust.calibration import expected_calibration_error, fit_temperature, nll, scale


def _softmax(logits):
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def test_ece_of_a_perfectly_calibrated_bin_is_zero():
    # 10 images at confidence 0.8, 8 of them right: accuracy equals confidence.
    probs = np.tile([0.8, 0.2], (10, 1))
    y = np.array([0] * 8 + [1] * 2)
    assert expected_calibration_error(probs, y) == pytest.approx(0.0)


def test_ece_of_an_overconfident_model():
    # Confidence 0.99 on every image, half of them right: ECE 0.49.
    probs = np.tile([0.99, 0.01], (10, 1))
    y = np.array([0, 1] * 5)
    assert expected_calibration_error(probs, y) == pytest.approx(0.49)


def test_ece_weights_bins_by_their_images():
    # Bin of 0.6 (3 images, all right: gap 0.4) and bin of 1.0 (1 image, right: gap 0).
    probs = np.array([[0.6, 0.4]] * 3 + [[1.0, 0.0]])
    y = np.zeros(4, int)
    assert expected_calibration_error(probs, y) == pytest.approx(3 * 0.4 / 4)


def test_ece_of_nothing_is_zero():
    assert expected_calibration_error(np.zeros((0, 2)), np.zeros(0)) == 0.0


def test_scale_keeps_the_argmax_and_sharpens_or_softens():
    probs = np.array([[0.7, 0.2, 0.1]])
    assert scale(probs, 1.0) == pytest.approx(probs)
    assert scale(probs, 0.5)[0, 0] > 0.7 > scale(probs, 2.0)[0, 0]
    assert scale(probs, 3.0).argmax() == 0


def test_fit_temperature_softens_an_overconfident_model():
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 3, n)
    # True logits give calibrated probabilities; the model's are 3x too sharp.
    logits = rng.normal(size=(n, 3))
    logits[np.arange(n), y] += 1.0
    truth = _softmax(logits)
    y = np.array([rng.choice(3, p=p) for p in truth])
    temperature, before, after = fit_temperature(_softmax(3 * logits), y)
    assert temperature == pytest.approx(3.0, rel=0.25)
    assert after < before
    assert expected_calibration_error(scale(_softmax(3 * logits), temperature), y) \
        < expected_calibration_error(_softmax(3 * logits), y)


def test_fit_temperature_keeps_a_calibrated_model_when_it_does_not_pay():
    probs = np.tile([0.8, 0.2], (10, 1))
    y = np.array([0] * 8 + [1] * 2)
    temperature, before, after = fit_temperature(probs, y)
    assert temperature is None
    assert before == after == pytest.approx(nll(probs, y))


def test_fit_temperature_without_images_or_classes():
    assert fit_temperature(np.zeros((0, 2)), np.zeros(0)) == (None, None, None)
    assert fit_temperature(np.ones((3, 1)), np.zeros(3)) == (None, None, None)
