"""Phase 2's optimizer and loss as the recipe builds them: rates by depth, the
warm-up and cosine schedule, label smoothing (Keras, no backbone weights)."""
import numpy as np
import pytest

from vergeml.models.imagenet.training.recipe import LEGACY, Recipe
from vergeml.models.imagenet.training.tuning_optimizer import tuning_loss, tuning_optimizer

ARGS = {"optimizer": "adam", "decay": 0.0, "fine-tune-epochs": 10}


def two_layers():
    """A "backbone" of two dense layers and a "top": ``(model, first, second)``."""
    import keras
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    first = keras.layers.Dense(4, name="first")
    second = keras.layers.Dense(4, name="second")
    top = keras.layers.Dense(2, activation="softmax", name="top")
    return keras.Model(inputs, top(second(first(inputs)))), first, second


def one_step(recipe):
    """How far one step moves each layer's kernel (first, second, top)."""
    model, first, second = two_layers()
    kernels = [first.kernel, second.kernel, model.get_layer("top").kernel]
    before = [np.array(w) for w in kernels]
    model.compile(optimizer=tuning_optimizer(ARGS, recipe, model, [first, second], 0.01, 5),
                  loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    model.train_on_batch(x, np.arange(16) % 2)
    return [float(np.abs(np.array(w) - b).max()) for w, b in zip(kernels, before)]


def test_deeper_layers_step_at_a_fraction_of_the_rate():
    """Adam's first step moves each weight by about its rate: the deeper of the two
    unfrozen layers by a tenth of the rate, the other and the top by all of it."""
    plain = one_step(LEGACY)
    scaled = one_step(Recipe(epochs=10, depth_decay=0.1, warmup_epochs=0))  # step 1: the peak rate
    assert plain == pytest.approx([0.01, 0.01, 0.01], rel=0.05)
    assert scaled == pytest.approx([0.001, 0.01, 0.01], rel=0.05)


def test_the_schedule_warms_up_for_an_epoch_then_decays_to_zero():
    model, first, _ = two_layers()
    optimizer = tuning_optimizer(ARGS, Recipe(epochs=10), model, [first], 0.003, steps=5)
    schedule = optimizer._learning_rate
    rates = [float(schedule(step)) for step in (0, 2, 5, 27, 50)]
    assert rates[0] == 0.0 and rates[1] == pytest.approx(0.003 * 2 / 5)
    assert rates[2] == pytest.approx(0.003)                      # the peak after one epoch
    assert 0.0 < rates[3] < 0.003 and rates[4] == pytest.approx(0.0, abs=1e-9)


def test_a_constant_recipe_keeps_the_run_optimizer():
    import keras
    model, first, _ = two_layers()
    optimizer = tuning_optimizer({**ARGS, "optimizer": "sgd"}, LEGACY, model, [first], 0.01, 5)
    assert type(optimizer) is keras.optimizers.SGD
    assert float(optimizer.learning_rate) == pytest.approx(0.01)


def test_label_smoothing_spreads_the_target():
    import keras
    probabilities = np.array([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1]], "float32")
    labels = np.array([0, 1])
    smoothed = tuning_loss(Recipe(epochs=1, label_smoothing=0.1), 3)(labels, probabilities)
    targets = np.eye(3)[labels] * 0.9 + 0.1 / 3
    expected = -(targets * np.log(probabilities)).sum(axis=1)
    assert np.asarray(smoothed) == pytest.approx(expected, rel=1e-5)
    assert tuning_loss(Recipe(epochs=1, label_smoothing=0.0), 3) == "sparse_categorical_crossentropy"
    assert keras.losses.get("sparse_categorical_crossentropy") is not None
