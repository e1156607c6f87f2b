"""The backbone table against Keras itself: constructors and preprocessing resolve, the
weights file names are what Keras asks for, missing weights fail fast offline (and the
network probe is bounded), and every architecture builds and runs a forward step."""
import time
import warnings

import numpy as np
import pytest

from vergeml.errors import VergeMLError
from vergeml.models.imagenet import backbones as bb
from vergeml.models.imagenet.backbones import BACKBONES, get_backbone
from vergeml.models.imagenet.weights import weights_file

from tests.unit.backbone_helpers import LISTED


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty $KERAS_HOME, offline by default."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("VERGEML_OFFLINE", "1")
    return tmp_path / "keras"


# -- the table -----------------------------------------------------------------


def test_constructors_and_preprocessing_resolve():
    for backbone in BACKBONES.values():
        assert callable(bb.load_object(backbone.constructor)), backbone.name
        assert callable(bb.load_object(backbone.preprocess)), backbone.name


def test_preprocessing_is_the_same_in_graph_and_numpy():
    """iter_features preprocesses tensors inside tf.data; predict paths use numpy."""
    import tensorflow as tf
    images = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3)).astype(np.float32)
    for dotted in sorted({b.preprocess for b in BACKBONES.values()}):
        fn = bb.load_object(dotted)
        graph = tf.function(lambda x, fn=fn: fn(x))(tf.constant(images))
        np.testing.assert_allclose(np.asarray(graph), fn(images.copy()), rtol=1e-5, atol=1e-5,
                                   err_msg=dotted)


# -- weights file names --------------------------------------------------------


@pytest.mark.parametrize("name, alpha, size", [
    ("mobilenet", 0.25, 96), ("mobilenet", 0.75, 128), ("mobilenet-v2", 1.3, 96),
    ("mobilenet-v2", 0.5, 100), ("mobilenet-v3-small", 0.75, 32), ("resnet-101-v2", 1.0, 32),
    ("nasnet-mobile", 1.0, 32), ("efficientnet-b0", 1.0, 32), ("efficientnet-v2-b0", 1.0, 32),
    ("convnext-tiny", 1.0, 32), ("densenet-121", 1.0, 32), ("xception", 1.0, 71),
])
def test_weights_file_matches_what_keras_asks_for(name, alpha, size, monkeypatch):
    """Ask Keras itself: intercept the file name its application requests."""
    import keras
    from keras.src.utils import file_utils

    class Asked(Exception):
        pass

    def fake_get_file(fname, *args, **kwargs):
        raise Asked(fname)
    monkeypatch.setattr(file_utils, "get_file", fake_get_file)
    backbone = get_backbone(name)
    kwargs = {"alpha": alpha} if backbone.alphas else {}
    with warnings.catch_warnings(), pytest.raises(Asked) as info:
        warnings.simplefilter("ignore")
        bb.load_object(backbone.constructor)(include_top=False, weights="imagenet",
                                             input_shape=(size, size, 3), **kwargs)
    keras.backend.clear_session()
    assert str(info.value) == weights_file(backbone, alpha, size)


# -- missing weights offline ---------------------------------------------------


def test_missing_weights_fail_fast_and_name_the_file(keras_home):
    from vergeml.models.imagenet.extraction.features import FeatureExtractor
    start = time.monotonic()
    extractor = FeatureExtractor("resnet-50")
    with pytest.raises(VergeMLError) as info:
        extractor.model
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert str(keras_home / "models") in message
    assert "--weights=none" in info.value.hint
    assert info.value.exit_code == 1
    with pytest.raises(VergeMLError):
        extractor.key  # the key needs the file's content too


def test_missing_weights_without_forced_offline_probe_the_network(keras_home, monkeypatch):
    from vergeml.models.imagenet import weights
    from vergeml.models.imagenet.extraction import features
    monkeypatch.delenv("VERGEML_OFFLINE")
    monkeypatch.setattr(weights, "_online", lambda: False)
    monkeypatch.setattr(weights, "_uses_proxy", lambda: False)  # or CI's proxy would be tried
    with pytest.raises(VergeMLError, match="mobilenet_7_5_224_tf_no_top.h5"):
        features.FeatureExtractor("mobilenet", alpha=0.75).model
    models = keras_home / "models"
    assert not models.exists() or not list(models.iterdir())  # nothing half-written


def test_network_probe_is_bounded():
    from vergeml.models.imagenet import weights
    start = time.monotonic()
    weights._online()
    assert time.monotonic() - start < weights.CONNECT_TIMEOUT + 1.5


def test_missing_size_specific_file_points_at_the_one_present(keras_home):
    from vergeml.models.imagenet.extraction.features import FeatureExtractor
    (keras_home / "models").mkdir(parents=True)
    (keras_home / "models" / "mobilenet_2_5_224_tf_no_top.h5").write_bytes(b"x")
    with pytest.raises(VergeMLError) as info:
        FeatureExtractor("mobilenet", alpha=0.25, size=128).model
    assert "mobilenet_2_5_128_tf_no_top.h5" in str(info.value)
    assert "mobilenet_2_5_224_tf_no_top.h5 is present" in info.value.hint


# -- every architecture builds -------------------------------------------------


# The big members of each family take 3-11 s each: make test-all builds them.
BIG = {"efficientnet-v2-l", "nasnet-large", "efficientnet-b7", "convnext-xlarge", "efficientnet-v2-m",
       "densenet-201", "nasnet-mobile", "efficientnet-b6", "inception-resnet-v2", "convnext-large",
       "resnet-152", "efficientnet-b5", "densenet-169", "efficientnet-v2-s", "resnet-152-v2",
       "convnext-base", "efficientnet-v2-b3", "efficientnet-v2-b2", "efficientnet-b4",
       "convnext-small", "resnet-101", "efficientnet-v2-b1", "resnet-101-v2", "efficientnet-b3",
       "efficientnet-b2"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in BIG else n
                                  for n in LISTED])
def test_every_architecture_builds_and_runs(name, keras_home):
    """weights none, smallest input, batch of one: one forward step."""
    import keras
    from vergeml.models.imagenet.extraction.features import FeatureExtractor
    backbone = get_backbone(name)
    extractor = FeatureExtractor(name, size=backbone.min_size, weights="none", seed=0)
    images = np.full((1, backbone.min_size, backbone.min_size, 3), 128, np.uint8)
    features = extractor.model(extractor.preprocess(images), training=False)
    assert tuple(features.shape) == (1, extractor.dim)
    assert np.isfinite(np.asarray(features)).all()
    keras.backend.clear_session()
