"""``--class-weights`` (issue 25): auto, adjusted, none, label:weight, and what Keras gets."""
import math

import pytest

from vergeml.errors import ConfigError
from vergeml.models.imagenet.training.class_weights import (
    ADJUSTED, keras_class_weight, output_shift, resolve_class_weights)

LABELS = ["cat", "dog", "fox"]


def test_auto_adjusts_the_outputs_of_a_3_to_1_set_and_says_so():
    weights, note = resolve_class_weights("auto", [300, 100, 200], LABELS)
    assert weights == ADJUSTED
    assert note.startswith("class balance on: cat has 300 training images, dog 100;")
    assert "--class-weights=none: off" in note
    assert resolve_class_weights("adjusted", [100, 100, 100], LABELS) == (ADJUSTED, "")


def test_the_shift_makes_the_decision_balanced():
    """softmax(z - log prior) is proportional to p / prior: a model that only learned the
    prior (the same logits for every image) then gives every class the same probability."""
    counts = [300, 100, 200]
    prior = [c / 600 for c in counts]
    logits = [math.log(p) for p in prior]  # a model that says the prior whatever it sees
    shifted = [z + s for z, s in zip(logits, output_shift(counts))]
    assert shifted == pytest.approx([0.0, 0.0, 0.0])
    assert output_shift([5, 0]) == [0.0, 0.0]  # a class with no image keeps its logit


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
    assert keras_class_weight(ADJUSTED, LABELS) is None  # the loss is not weighted
