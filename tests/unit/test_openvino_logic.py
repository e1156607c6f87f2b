"""The openvino runtime's pure logic: options, the one-line missing-extra errors, cache stage."""
import types

import pytest

from vergeml.runtimes import export_formats as runtimes
from vergeml.errors import ConfigError, VergeMLError
from vergeml.models.imagenet.extraction import openvino_features
from vergeml.models.imagenet.extraction.feature_cache import feature_stage
from vergeml.models.imagenet.imagenet_options import TRAIN_OPTIONS


def _absent(name):
    return None


def test_train_runtime_option_defaults_to_tensorflow():
    option = next(o for o in TRAIN_OPTIONS if o.name == "runtime")
    assert option.default == "tensorflow" and tuple(option.choices) == ("tensorflow", "openvino")


def test_missing_openvino_extra_for_features_is_one_line():
    with pytest.raises(VergeMLError) as info:
        openvino_features.require_openvino(find_spec=_absent)
    assert info.value.message == ("the openvino runtime needs the openvino extra: "
                                  "pip install 'vergeml[openvino]'")


def test_missing_openvino_extra_for_predict_and_export_names_it():
    with pytest.raises(VergeMLError) as info:
        runtimes.require_extra("openvino", "predict with", runtimes.RUN_MODULES["openvino"],
                               find_spec=_absent)
    assert info.value.message == "predict with openvino needs the openvino extra: " \
                                 "pip install 'vergeml[openvino]'"
    with pytest.raises(VergeMLError, match=r"^export to openvino needs the openvino extra"):
        runtimes.require_extra("openvino", find_spec=_absent)
    # the other formats still name the export extra
    with pytest.raises(VergeMLError, match=r"needs the export extra: pip install 'vergeml\[export\]'"):
        runtimes.require_extra("onnx", find_spec=_absent)


def test_openvino_format_is_an_uncompressed_ir():
    fmt = runtimes.FORMATS["openvino"]
    assert (fmt.artifact, fmt.modules) == ("model.xml", ("openvino",))
    assert runtimes.parse_formats("openvino") == ["openvino"]


def test_runtime_is_part_of_the_feature_stage_tensorflow_keeps_its_stage():
    tf = types.SimpleNamespace(key="abc", runtime="tensorflow")
    ov = types.SimpleNamespace(key="abc", runtime="openvino")
    assert feature_stage(tf, "fill") == "features:abc:fill"
    assert feature_stage(ov, "fill") == "features:abc:fill:openvino"
    assert feature_stage(types.SimpleNamespace(key="abc"), "fill") == "features:abc:fill"


def test_ir_is_kept_under_the_feature_key(tmp_path):
    assert openvino_features.ir_path(tmp_path, "abc") == str(tmp_path / "openvino" / "abc-uint8" / "model.xml")


def test_f32_is_always_asked_for():
    assert openvino_features.COMPILE_CONFIG["INFERENCE_PRECISION_HINT"] == "f32"


def test_unknown_runtime_is_a_config_error():
    from vergeml.models.imagenet.extraction.features import FeatureExtractor
    with pytest.raises(ConfigError, match="unknown runtime 'onnx'"):
        FeatureExtractor("mobilenet", alpha=0.25, size=96, weights="none", runtime="onnx")


def test_batches_run_as_small_requests_of_views_and_come_back_whole():
    import numpy as np
    pixels = np.arange(20 * 2).reshape(20, 2)
    batches = [(np.arange(0, 20), pixels), (np.arange(20, 23), pixels[:3])]
    pieces = list(openvino_features.split_batches(batches, 8))
    assert [len(p) for _, p in pieces] == [8, 8, 4, 3]
    assert [last for (_, last), _ in pieces] == [False, False, True, True]
    assert all(np.shares_memory(p, pixels) for _, p in pieces)      # views: no copy
    assert np.array_equal(np.concatenate([p for _, p in pieces[:3]]), pixels)
    assert openvino_features.REQUEST_BATCH == 8
