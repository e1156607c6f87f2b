"""FeatureExtractor on the real MobileNet alpha 0.25 ImageNet weights (offline)."""
import shutil
import warnings

import numpy as np
import pytest

from tests.conftest import MOBILENET_WEIGHTS, WEIGHTS_DIR
from vergeml.errors import ConfigError, VergeMLError
from vergeml.models.imagenet.extraction.features import FeatureExtractor

SHARED = WEIGHTS_DIR / MOBILENET_WEIGHTS
SIZE = 96

pytestmark = [
    pytest.mark.filterwarnings("ignore::vergeml.models.imagenet.backbones.SizeWarning"),
    # Keras's own saving code under numpy 2; nothing of ours.
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]


@pytest.fixture
def keras_home(keras_home, monkeypatch):
    """The shared $KERAS_HOME holding only the mobilenet file (fails when it is absent);
    offline. Read-only: tests write their own files under tmp_path."""
    monkeypatch.setenv("VERGEML_OFFLINE", "1")
    return keras_home


@pytest.fixture
def extractor(keras_home):
    return FeatureExtractor("mobilenet", alpha=0.25, size=SIZE)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (70, SIZE, SIZE, 3), dtype=np.uint8)


def mobilenet(**kwargs):
    return FeatureExtractor("mobilenet", **{"alpha": 0.25, "size": SIZE, **kwargs})


def test_dim_size_and_real_weights(extractor):
    assert extractor.size == SIZE
    assert extractor.dim == 256
    gamma = extractor.model.get_layer("conv_pw_13_bn").gamma.numpy()
    assert gamma.mean() > 2  # trained weights, not the initial ones


def test_iter_features_equals_predict(extractor, images):
    chunks = list(extractor.iter_features(list(images), lambda image: image, batch_size=32))
    indices = np.concatenate([i for i, _ in chunks])
    features = np.concatenate([f for _, f in chunks])
    assert [len(i) for i, _ in chunks] == [32, 32, 6]
    assert indices.tolist() == list(range(len(images)))
    assert features.dtype == np.float32 and features.shape == (len(images), 256)
    expected = extractor.model.predict(extractor.preprocess(images), verbose=0)
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5)


def test_extract_and_empty_input(extractor, images):
    assert extractor.extract(images[:3]).shape == (3, 256)
    assert list(extractor.iter_features([], lambda item: item)) == []


def test_preprocess_does_not_modify_its_input(extractor, images):
    batch = images[:2].astype(np.float32)
    before = batch.copy()
    out = extractor.preprocess(batch)
    np.testing.assert_array_equal(batch, before)
    assert -1.0 <= out.min() and out.max() <= 1.0  # mobilenet scales to [-1, 1]


def test_load_fn_errors_surface_unchanged(extractor, images):
    def load(index):
        if index == 5:
            raise FileNotFoundError("no such image: 5")
        return images[index]
    with pytest.raises(FileNotFoundError, match="no such image: 5"):
        list(extractor.iter_features(list(range(10)), load, batch_size=4))
    with pytest.raises(VergeMLError, match="expected \\(96, 96, 3\\)"):
        list(extractor.iter_features([0], lambda i: np.zeros((8, 8, 3), np.uint8)))


def test_key_is_stable_and_tracks_every_input(keras_home, tmp_path):
    base = mobilenet()
    assert base.key == mobilenet().key
    assert len(base.key) == 16
    others = [mobilenet(size=100), mobilenet(output_layer="conv_pw_5_relu"),
              mobilenet(output_layer=-3), mobilenet(weights="none", seed=1),
              mobilenet(weights=str(keras_home / "models" / SHARED.name))]
    keys = {base.key} | {o.key for o in others}
    assert len(keys) == 1 + len(others)
    assert mobilenet(weights="none", seed=1).key == mobilenet(weights="none", seed=1).key
    assert mobilenet(weights="none", seed=1).key != mobilenet(weights="none", seed=2).key
    assert (mobilenet(weights="none", seed=1, alpha=0.5).key
            != mobilenet(weights="none", seed=1).key)
    # Unseeded random weights can never be reproduced, so never share a key.
    assert mobilenet(weights="none").key != mobilenet(weights="none").key
    # Same file name, different content: different key.
    copy = tmp_path / "copy.h5"
    shutil.copy(SHARED, copy)
    first = mobilenet(weights=str(copy)).key
    with open(copy, "r+b") as handle:
        handle.seek(-1, 2)
        last = handle.read(1)
        handle.seek(-1, 2)
        handle.write(bytes([last[0] ^ 0xFF]))
    assert mobilenet(weights=str(copy)).key != first


def test_seeded_random_weights_are_reproducible(keras_home, images):
    first = mobilenet(weights="none", seed=3, size=32).extract(images[:2, :32, :32])
    second = mobilenet(weights="none", seed=3, size=32).extract(images[:2, :32, :32])
    np.testing.assert_array_equal(first, second)


def test_weights_from_a_path(keras_home, tmp_path, images):
    source = mobilenet(weights="none", seed=7)
    path = tmp_path / "backbone.weights.h5"
    source.model.save_weights(path)
    loaded = mobilenet(weights=str(path))
    np.testing.assert_allclose(loaded.extract(images[:4]), source.extract(images[:4]),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="weights file not found"):
        mobilenet(weights=str(tmp_path / "absent.h5"))
    (tmp_path / "bad.h5").write_bytes(b"not hdf5")
    with pytest.raises(VergeMLError, match="cannot load weights"):
        mobilenet(weights=str(tmp_path / "bad.h5")).model


def test_output_layer_by_name_and_index(extractor, images):
    by_name = mobilenet(output_layer="conv_pw_5_relu")
    assert by_name.dim == 256 // 4
    by_index = mobilenet(output_layer=str(extractor.model.layers.index(
        extractor.model.get_layer("conv_pw_5_relu"))))
    np.testing.assert_allclose(by_name.extract(images[:3]), by_index.extract(images[:3]),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="not found: conv_pw_5_rel. Did you mean 'conv_pw_5_relu'"):
        mobilenet(output_layer="conv_pw_5_rel").model
    with pytest.raises(ConfigError, match="layer not found: 999"):
        mobilenet(output_layer=999).model


def test_full_model_saves_and_loads(extractor, images, tmp_path):
    import keras
    top = keras.Sequential([keras.Input((256,)), keras.layers.Dense(10, activation="softmax")])
    full = extractor.full_model(top)
    path = tmp_path / "model.keras"
    full.save(path)
    loaded = keras.saving.load_model(path)
    batch = extractor.preprocess(images[:5])
    expected = top.predict(extractor.extract(images[:5]), verbose=0)
    np.testing.assert_allclose(full.predict(batch, verbose=0), expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(loaded.predict(batch, verbose=0), expected, rtol=1e-4, atol=1e-6)
    assert loaded.input_shape == (None, SIZE, SIZE, 3)


def test_size_note_is_a_warning(keras_home):
    from vergeml.models.imagenet.backbones import SizeWarning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mobilenet()
    assert any(issubclass(w.category, SizeWarning) for w in caught)
