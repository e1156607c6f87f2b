"""Phase 2 with real Keras models: the fused model, freezing, augmentation, run state.

MobileNet alpha 0.25 at 32 px with its ImageNet weights (``keras_home``): with
random weights its features are all but zero at this size, which would make
every comparison below pass for the wrong reason.
"""
import numpy as np
import pytest

from vergeml.models.imagenet.training.augment import AUTO_AUGMENT, build_augmenter, parse_augment
from vergeml.models.imagenet.training.fine_tune import unfreeze
from vergeml.models.imagenet.training.pipeline import epoch_dataset, image_transform
from vergeml.models.imagenet.training.run_state import (STATE_FILE, RunState, commit, load_state,
                                               restore_seeds, seed_states)
from vergeml.models.imagenet.training.head import build_top, make_optimizer

pytestmark = [
    pytest.mark.filterwarnings("ignore::vergeml.models.imagenet.backbones.SizeWarning"),
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]

SIZE = 32
CLASSES = 3


@pytest.fixture
def extractor(keras_home):
    """A new backbone per test (tests change its weights and trainable flags)."""
    from vergeml.models.imagenet.extraction.features import FeatureExtractor
    extractor = FeatureExtractor("mobilenet", alpha=0.25, size=SIZE, weights="imagenet", seed=1)
    extractor.model
    return extractor


@pytest.fixture(scope="module")
def images():
    """16 uint8 images: smooth colour gradients with noise (not all alike)."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 1, SIZE, dtype="float32")
    out = []
    for _ in range(16):
        a, b, c = rng.uniform(-1, 1, 3)
        base = 128 + 120 * np.stack([np.add.outer(a * ramp, b * ramp),
                                     np.add.outer(b * ramp, c * ramp),
                                     np.add.outer(c * ramp, a * ramp)], -1) / 2
        out.append(np.clip(base + rng.normal(0, 20, base.shape), 0, 255))
    return np.stack(out).astype("uint8")


@pytest.fixture(scope="module")
def labels():
    return np.arange(16, dtype="int64") % CLASSES


def sharp_top(dim, seed=1, layers=1, dropout=0.0):
    """A top whose outputs differ clearly between images (a big random kernel)."""
    top = build_top(dim, CLASSES, layers, dropout, seed)
    rng = np.random.default_rng(seed)
    kernel = top.get_layer("predictions").kernel
    kernel.assign(rng.normal(0, 30, kernel.shape).astype("float32"))
    return top


def compile_full(model, rate=0.01):
    model.compile(optimizer=make_optimizer("adam", rate, 0.0),
                  loss="sparse_categorical_crossentropy", metrics=["acc"])
    return model


def weighted_layers(backbone):
    """The backbone's layers that hold weights, BatchNormalization excluded, in order."""
    import keras
    return [l for l in backbone.layers
            if l.weights and not isinstance(l, keras.layers.BatchNormalization)]


def bn_layers(backbone):
    import keras
    return [l for l in backbone.layers if isinstance(l, keras.layers.BatchNormalization)]


def snapshot(model):
    return {l.name: [np.array(w) for w in l.weights] for l in model.layers}


def walk(model):
    stack = [model]
    while stack:
        layer = stack.pop()
        yield layer
        stack.extend(getattr(layer, "layers", ()) or ())


# -- the fused model -----------------------------------------------------------------

def test_the_fused_model_computes_what_top_and_features_compute(extractor, images):
    features = extractor.extract(images)
    top = sharp_top(extractor.dim)
    expected = top.predict(features, verbose=0)
    assert expected.std(axis=0).max() > 0.05, "the outputs hardly vary: the test proves nothing"
    full = extractor.full_model(top)
    got = full.predict(extractor.preprocess(images), verbose=0)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    assert full.get_layer("top") is top             # the top's weights are shared, not copied
    assert full.input_shape == (None, SIZE, SIZE, 3) and full.output_shape == (None, CLASSES)


# -- freezing -----------------------------------------------------------------------

def test_unfreeze_trains_the_last_layers_and_nothing_else(extractor, images, labels):
    backbone = extractor.model
    top = sharp_top(extractor.dim)
    full = extractor.full_model(top)
    assert len(unfreeze(backbone, 4)) == 4
    chosen = weighted_layers(backbone)[-4:]
    assert [l.name for l in chosen] == ["conv_dw_12", "conv_pw_12", "conv_dw_13", "conv_pw_13"]
    assert {id(v) for v in full.trainable_weights} == \
        {id(v) for l in chosen for v in l.trainable_weights} | {id(v) for v in top.trainable_weights}
    before = snapshot(backbone)
    top_before = [np.array(w) for w in top.weights]
    compile_full(full).fit(extractor.preprocess(images), labels, batch_size=8, epochs=1,
                           shuffle=False, verbose=0)
    after = snapshot(backbone)
    chosen_names = {l.name for l in chosen}
    for name, weights in before.items():
        if name not in chosen_names:
            for old, new in zip(weights, after[name], strict=True):
                np.testing.assert_array_equal(old, new, err_msg=f"frozen layer {name} changed")
    for layer in bn_layers(backbone):
        np.testing.assert_array_equal(np.array(layer.moving_mean), before[layer.name][2],
                                      err_msg=f"{layer.name} moving_mean changed")
        np.testing.assert_array_equal(np.array(layer.moving_variance), before[layer.name][3],
                                      err_msg=f"{layer.name} moving_variance changed")
    changed = [name for name in chosen_names
               if any(not np.array_equal(o, n) for o, n in zip(before[name], after[name]))]
    assert changed, "no unfrozen kernel changed"
    assert any(not np.array_equal(o, np.array(n)) for o, n in zip(top_before, top.weights))


def test_bn_layer_weight_order_is_gamma_beta_mean_variance(extractor):
    # The test above reads the moving statistics from snapshot positions 2 and 3.
    layer = bn_layers(extractor.model)[0]
    assert [w.path.split("/")[-1] for w in layer.weights] == [
        "gamma", "beta", "moving_mean", "moving_variance"]


def test_unfreeze_all_leaves_batch_normalization_frozen(extractor):
    backbone = extractor.model
    weighted = weighted_layers(backbone)
    assert len(unfreeze(backbone, "all")) == len(weighted) == 27     # conv1 + 13 x (dw, pw)
    assert backbone.trainable
    assert all(l.trainable for l in weighted)
    assert bn_layers(backbone) and not any(l.trainable for l in bn_layers(backbone))
    assert not any(v.trainable for l in bn_layers(backbone) for v in l.weights)
    # Unfreezing fewer afterwards freezes the rest again.
    assert len(unfreeze(backbone, 2)) == 2
    assert [l.name for l in weighted if l.trainable] == ["conv_dw_13", "conv_pw_13"]


# -- augmentation --------------------------------------------------------------------

def test_augmentation_differs_on_every_pass_and_only_in_training(extractor, images, labels):
    augmenter = build_augmenter(parse_augment(AUTO_AUGMENT), seed=5)
    plain = extractor.preprocess(images.astype("float32"))
    passes = [x.numpy() for x, _ in epoch_dataset(
        (images, labels), 16, 0, 0, 2, shuffle=False,
        transform=image_transform(extractor.preprocess, augmenter))]
    assert len(passes) == 2 and passes[0].shape == plain.shape
    assert np.abs(passes[0] - passes[1]).max() > 0.1, "two passes gave the same augmentation"
    assert np.abs(passes[0] - plain).max() > 0.1
    # Without an augmenter (validation) every pass is the plain preprocessing.
    for x, _ in epoch_dataset((images, labels), 16, 0, 0, 2, shuffle=False,
                              transform=image_transform(extractor.preprocess)):
        np.testing.assert_allclose(x.numpy(), plain, atol=1e-6)
    x = images.astype("float32")
    np.testing.assert_array_equal(np.array(augmenter(x, training=False)), x)


def test_the_saved_fine_tuned_model_holds_no_augmentation(extractor, images, labels, tmp_path):
    import keras
    augmenter = build_augmenter(parse_augment(["flip-horizontal", "rotate:0.2", "zoom:0.2"]), 3)
    full = extractor.full_model(sharp_top(extractor.dim))
    unfreeze(extractor.model, 4)
    train = epoch_dataset((images, labels), 8, 0, 0, 1,
                          transform=image_transform(extractor.preprocess, augmenter))
    compile_full(full).fit(train, epochs=1, verbose=0, shuffle=False)
    full.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    random_layers = [l.name for l in walk(loaded) if type(l).__name__.startswith("Random")
                     or isinstance(l, keras.layers.Pipeline)]
    assert random_layers == []
    x = extractor.preprocess(images)
    first, second = (np.array(loaded(x, training=True)) for _ in range(2))
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), full.predict(x, verbose=0),
                               atol=1e-5, rtol=0)
    np.testing.assert_allclose(first, full.predict(x, verbose=0), atol=1e-5, rtol=0)


# -- run_state: commit and load ------------------------------------------------------

def compiled_dropout_top(seed=1):
    top = build_top(8, CLASSES, 2, 0.5, seed)
    top.compile(optimizer=make_optimizer("adam", 0.01, 0.0),
                loss="sparse_categorical_crossentropy")
    return top


def test_commit_and_load_state_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(32, 8)).astype("float32"), np.arange(32) % CLASSES
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for stale in ("last-99.weights.h5", "best-42.weights.h5"):
        (folder / stale).write_bytes(b"stale")
    (folder / "top.weights.h5").write_bytes(b"keep")

    import keras
    keras.backend.clear_session()  # as in a new process: layer names (the seed keys) restart
    model = compiled_dropout_top()
    state = RunState()
    scores = {1: [0.5, -1.0], 2: [0.4, -0.8], 3: [0.6, -0.9]}
    for epoch, score in scores.items():
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
        state.epochs_done, state.history = epoch, state.history + [{"epoch": epoch}]
        improved = state.better(score)
        if improved:
            state.best, state.best_epoch, state.best_phase = score, epoch, "top"
        state.seeds = seed_states(model)
        commit(folder, state, model, model if improved else None)
        names = {state.last_file, state.best_file}
        assert all((folder / name).is_file() for name in names)
        assert {p.name for p in folder.glob("*.weights.h5")} == names | {"top.weights.h5"}
        if epoch == 2:
            assert (state.last_file, state.best_file) == ("last-2.weights.h5", "best-1.weights.h5")
    assert (state.last_file, state.best_file) == ("last-3.weights.h5", "best-3.weights.h5")
    assert (folder / "top.weights.h5").read_bytes() == b"keep"
    assert not list(folder.glob("*.tmp*"))
    saved_weights = [np.array(w) for w in model.weights]
    saved_iterations = int(model.optimizer.iterations)
    dropout_names = [l.name for l in model.layers if "dropout" in l.name]
    assert sorted(k.split("/")[0] for k in state.seeds) == sorted(dropout_names) and dropout_names

    loaded = load_state(folder)
    assert loaded == state
    assert load_state(tmp_path) is None

    # What the next epoch would have drawn, then one more draw that differs.
    expected = np.array(model(x, training=True))
    assert not np.array_equal(expected, np.array(model(x, training=True)))
    # A new process: a new model, the last weights with the optimizer, the seeds.
    keras.backend.clear_session()
    again = compiled_dropout_top()
    assert [l.name for l in again.layers] == [l.name for l in model.layers]
    again.optimizer.build(again.trainable_variables)
    again.load_weights(folder / loaded.last_file)
    restore_seeds(loaded.seeds, again)
    for saved, new in zip(saved_weights, again.weights, strict=True):
        np.testing.assert_array_equal(saved, np.array(new))
    assert int(again.optimizer.iterations) == saved_iterations == 12
    np.testing.assert_array_equal(np.array(again(x, training=True)), expected)
    # And in the same process: restoring rewinds the generators.
    restore_seeds(loaded.seeds, model)
    np.testing.assert_array_equal(np.array(model(x, training=True)), expected)


def test_the_optimizer_state_is_in_the_last_checkpoint(tmp_path):
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(16, 8)).astype("float32"), np.arange(16) % CLASSES
    model = compiled_dropout_top()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    state = RunState(epochs_done=2)
    commit(tmp_path, state, model)
    assert state.best_file is None and (tmp_path / STATE_FILE).is_file()
    again = compiled_dropout_top()
    again.optimizer.build(again.trainable_variables)
    again.load_weights(tmp_path / state.last_file)
    moments = [(a, b) for a, b in zip(model.optimizer.variables, again.optimizer.variables,
                                      strict=True) if "momentum" in a.path]
    assert moments
    for a, b in moments:
        np.testing.assert_array_equal(np.array(a), np.array(b))
    assert any(np.abs(np.array(a)).max() > 0 for a, _ in moments)
