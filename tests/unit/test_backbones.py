"""The backbone table: names, validation, sizes, alphas and weights file names.

What needs Keras (building every architecture, the file names Keras asks for,
offline errors) is in tests/integration/test_backbones.py."""
import warnings

import pytest

from vergeml.errors import ConfigError
from vergeml.models.imagenet.backbones import (
    BACKBONES, SizeWarning, architecture_names, get_backbone, resolve_alpha, resolve_size)
from vergeml.models.imagenet.weights import weights_file

from tests.unit.backbone_helpers import LISTED


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
