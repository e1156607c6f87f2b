"""The backbone table: names, validation, weights file names, offline errors, and
a build + forward step of every architecture so the table cannot rot."""
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

from vergeml.errors import ConfigError, VergeMLError
from vergeml.models.imagenet import backbones as bb
from vergeml.models.imagenet.backbones import (
    BACKBONES, SizeWarning, architecture_names, get_backbone, resolve_alpha, resolve_size)
from vergeml.models.imagenet.weights import weights_file

LISTED = (
    ["resnet-50", "resnet-101", "resnet-152", "resnet-50-v2", "resnet-101-v2", "resnet-152-v2",
     "inception-v3", "inception-resnet-v2", "xception", "mobilenet", "mobilenet-v2",
     "mobilenet-v3-small", "mobilenet-v3-large", "vgg-16", "vgg-19", "densenet-121",
     "densenet-169", "densenet-201", "nasnet-mobile", "nasnet-large"]
    + [f"efficientnet-b{i}" for i in range(8)]
    + [f"efficientnet-v2-{v}" for v in ("b0", "b1", "b2", "b3", "s", "m", "l")]
    + [f"convnext-{v}" for v in ("tiny", "small", "base", "large", "xlarge")])


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty $KERAS_HOME, offline by default."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("VERGEML_OFFLINE", "1")
    return tmp_path / "keras"


# -- the table -----------------------------------------------------------------


def test_table_lists_every_architecture():
    assert sorted(BACKBONES) == sorted(LISTED)
    names = architecture_names()
    assert set(LISTED) <= set(names)
    assert {"densenet", "nasnet", "vgg16", "vgg19"} <= set(names)
    assert len(names) == len(set(names))


def test_keras_names():
    assert get_backbone("resnet-50").keras_name == "resnet50"
    assert get_backbone("inception-v3").keras_name == "inceptionv3"
    assert get_backbone("mobilenet").keras_name == "mobilenet"
    assert get_backbone("efficientnet-v2-s").keras_name == "efficientnetv2s"


def test_importing_the_table_imports_no_keras():
    code = ("import sys, vergeml.models.imagenet.backbones as b; b.architecture_names(); "
            "b.resolve_size(b.get_backbone('mobilenet'), 'auto'); "
            "import vergeml.models.imagenet.features as f; "
            "f.FeatureExtractor('resnet-50', weights='none'); "
            "sys.exit(any(m in sys.modules for m in ('keras', 'tensorflow')))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


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


# -- names and variants --------------------------------------------------------


@pytest.mark.parametrize("name, variant, expected", [
    ("densenet", "auto", "densenet-121"),
    ("densenet", "169", "densenet-169"),
    ("densenet", "densenet-201", "densenet-201"),
    ("DenseNet", None, "densenet-121"),
    ("nasnet", "auto", "nasnet-large"),
    ("nasnet", "mobile", "nasnet-mobile"),
    ("vgg16", "auto", "vgg-16"),
    ("vgg19", "auto", "vgg-19"),
    ("efficientnet", "b3", "efficientnet-b3"),
    ("efficientnet-v2", "s", "efficientnet-v2-s"),
    ("convnext", "auto", "convnext-tiny"),
    ("resnet_50", "auto", "resnet-50"),
    ("densenet-169", "169", "densenet-169"),
])
def test_get_backbone(name, variant, expected):
    assert get_backbone(name, variant).name == expected


def test_nasnet_auto_is_large_at_331():
    backbone = get_backbone("nasnet")
    assert resolve_size(backbone, "auto") == 331


@pytest.mark.parametrize("name, variant, words", [
    ("resnet50", "auto", ["unknown architecture resnet50", "Did you mean 'resnet-50'?"]),
    ("inception-resnet-v3", "auto", ["Did you mean 'inception-resnet-v2'?"]),
    ("densenet", "122", ["invalid densenet variant 122", "121, 169, 201", "Did you mean '121'?"]),
    ("nasnet", "small", ["invalid nasnet variant small", "mobile, large"]),
    ("resnet-50", "101", ["invalid variant 101 for architecture resnet-50"]),
])
def test_get_backbone_errors(name, variant, words):
    with pytest.raises(ConfigError) as info:
        get_backbone(name, variant)
    for word in words:
        assert word in str(info.value)


# -- size and alpha ------------------------------------------------------------


def test_size_auto_is_the_default_size():
    assert resolve_size(get_backbone("inception-v3"), "auto") == 299
    assert resolve_size(get_backbone("efficientnet-b7"), None) == 600
    assert resolve_size(get_backbone("mobilenet"), "AUTO") == 224


def test_size_explicit_and_invalid():
    assert resolve_size(get_backbone("resnet-50"), "64", "none") == 64
    with pytest.raises(ConfigError, match="needs at least 75 pixels"):
        resolve_size(get_backbone("inception-v3"), 74)
    with pytest.raises(ConfigError, match="invalid size: big"):
        resolve_size(get_backbone("resnet-50"), "big")
    with pytest.raises(ConfigError, match="invalid size"):
        resolve_size(get_backbone("resnet-50"), 96.5)


def test_size_warnings_only_where_imagenet_weights_do_not_fit():
    def warned(name, size, weights="imagenet"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            resolve_size(get_backbone(name), size, weights)
        return [str(w.message) for w in caught if issubclass(w.category, SizeWarning)]

    assert warned("mobilenet", 160) == []
    assert warned("mobilenet-v2", 96) == []
    assert "uses the 224 px weights" in warned("mobilenet", 96)[0]
    assert "trained at 299 px" in warned("xception", 150)[0]
    assert warned("xception", 150, "none") == []
    assert warned("resnet-50", 224) == []


def test_alpha():
    mobilenet = get_backbone("mobilenet")
    assert resolve_alpha(mobilenet, 0.25) == 0.25
    assert resolve_alpha(mobilenet, "auto") == 1.0
    assert resolve_alpha(mobilenet, 0.3, "none") == 0.3  # random weights: any width
    assert resolve_alpha(get_backbone("mobilenet-v2"), 1.4) == 1.4
    assert resolve_alpha(get_backbone("resnet-50"), 1.0) == 1.0
    with pytest.raises(ConfigError, match="ImageNet weights for alpha 0.25, 0.5, 0.75, 1"):
        resolve_alpha(mobilenet, 0.35)
    with pytest.raises(ConfigError, match="alpha 0.75, 1"):
        resolve_alpha(get_backbone("mobilenet-v3-small"), 0.5)
    with pytest.raises(ConfigError, match="resnet-50 has no alpha"):
        resolve_alpha(get_backbone("resnet-50"), 0.5)
    with pytest.raises(ConfigError, match="must be > 0"):
        resolve_alpha(mobilenet, 0, "none")


# -- weights file names --------------------------------------------------------


@pytest.mark.parametrize("name, alpha, size, expected", [
    ("mobilenet", 0.25, 96, "mobilenet_2_5_224_tf_no_top.h5"),
    ("mobilenet", 0.25, 224, "mobilenet_2_5_224_tf_no_top.h5"),
    ("mobilenet", 0.25, 128, "mobilenet_2_5_128_tf_no_top.h5"),
    ("mobilenet", 1.0, 192, "mobilenet_1_0_192_tf_no_top.h5"),
    ("mobilenet", 0.5, 160, "mobilenet_5_0_160_tf_no_top.h5"),
    ("mobilenet-v2", 0.35, 96, "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"),
    ("mobilenet-v2", 1.4, 100, "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.4_224_no_top.h5"),
    ("mobilenet-v3-small", 0.75, 224, "weights_mobilenet_v3_small_224_0.75_float_no_top_v2.h5"),
    ("mobilenet-v3-large", 1.0, 96, "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5"),
    ("resnet-50", 1.0, 224, "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    ("resnet-152-v2", 1.0, 224, "resnet152v2_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    ("inception-v3", 1.0, 299, "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    ("vgg-19", 1.0, 224, "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    ("nasnet-large", 1.0, 331, "nasnet_large_no_top.h5"),
    ("efficientnet-b3", 1.0, 300, "efficientnetb3_notop.h5"),
    ("efficientnet-v2-m", 1.0, 480, "efficientnetv2-m_notop.h5"),
    ("convnext-xlarge", 1.0, 224, "convnext_xlarge_notop.h5"),
])
def test_weights_file(name, alpha, size, expected):
    assert weights_file(get_backbone(name), alpha, size) == expected


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
    from vergeml.models.imagenet.features import FeatureExtractor
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
    from vergeml.models.imagenet import features, weights
    monkeypatch.delenv("VERGEML_OFFLINE")
    monkeypatch.setattr(weights, "_online", lambda: False)
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
    from vergeml.models.imagenet.features import FeatureExtractor
    (keras_home / "models").mkdir(parents=True)
    (keras_home / "models" / "mobilenet_2_5_224_tf_no_top.h5").write_bytes(b"x")
    with pytest.raises(VergeMLError) as info:
        FeatureExtractor("mobilenet", alpha=0.25, size=128).model
    assert "mobilenet_2_5_128_tf_no_top.h5" in str(info.value)
    assert "mobilenet_2_5_224_tf_no_top.h5 is present" in info.value.hint


# -- every architecture builds -------------------------------------------------


@pytest.mark.parametrize("name", LISTED)
def test_every_architecture_builds_and_runs(name, keras_home):
    """weights none, smallest input, batch of one: one forward step."""
    import keras
    from vergeml.models.imagenet.features import FeatureExtractor
    backbone = get_backbone(name)
    extractor = FeatureExtractor(name, size=backbone.min_size, weights="none", seed=0)
    images = np.full((1, backbone.min_size, backbone.min_size, 3), 128, np.uint8)
    features = extractor.model(extractor.preprocess(images), training=False)
    assert tuple(features.shape) == (1, extractor.dim)
    assert np.isfinite(np.asarray(features)).all()
    keras.backend.clear_session()
