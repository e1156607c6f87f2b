"""``--class-weights`` (issue 25): auto, none, label:weight, and what Keras gets."""
import pytest

from vergeml.errors import ConfigError
from vergeml.models.imagenet.training.class_weights import keras_class_weight, resolve_class_weights

LABELS = ["cat", "dog", "fox"]


def test_auto_balances_a_3_to_1_set_and_says_so():
    weights, note = resolve_class_weights("auto", [300, 100, 200], LABELS)
    assert weights == {"cat": pytest.approx(600 / 900), "dog": pytest.approx(2.0),
                       "fox": pytest.approx(1.0)}
    assert note.startswith("class weights on: cat has 300 training images, dog 100;")
    # each class then weighs the same in the loss: weight x count is equal
    assert {round(weights[label] * n) for label, n in zip(LABELS, (300, 100, 200))} == {200}


def test_auto_leaves_a_roughly_balanced_set_alone():
    assert resolve_class_weights(["auto"], [299, 100, 200], LABELS) == (None, "")
    assert resolve_class_weights("none", [900, 10, 10], LABELS) == (None, "")


def test_given_weights_default_to_one_and_are_checked():
    weights, note = resolve_class_weights(["dog:5", "fox:0.5"], [1, 1, 1], LABELS)
    assert weights == {"cat": 1.0, "dog": 5.0, "fox": 0.5} and note == ""
    with pytest.raises(ConfigError, match="no class named 'dgo'. Did you mean 'dog'"):
        resolve_class_weights("dgo:2", [1, 1, 1], LABELS)
    for bad in ("dog:0", "dog:-1", "dog:heavy", "dog"):
        with pytest.raises(ConfigError, match="class-weights"):
            resolve_class_weights(bad, [1, 1, 1], LABELS)


def test_keras_gets_weights_by_class_index():
    assert keras_class_weight({"dog": 5.0, "cat": 1.0}, LABELS) == {0: 1.0, 1: 5.0, 2: 1.0}
    assert keras_class_weight("none", LABELS) is None
