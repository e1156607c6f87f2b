"""``data.output`` feature types: validation and settings (``ml preprocess`` writing
``.npy`` is in tests/integration and tests/e2e/test_data_features_output.py)."""
import pytest

from tests.unit.test_data_helpers import features_env
from vergeml.data.data_section import parse_data_config
from vergeml.errors import ConfigError
from vergeml.models.imagenet.outputs import warn_ignored


@pytest.mark.parametrize("output, message", [
    ({"type": "mnist"}, "data.output.type: mnist is not an output type; expected one of image, "
                        "image-features, labeled-image, labeled-image-features"),
    ({"type": "features"}, "unknown type 'features'"),
    ({"architecture": "mobilenet"}, "data.output.type: missing"),
    ({"type": "image-features", "architecture": "resnet-5"}, "data.output.architecture: expected"),
    ({"type": "image-features", "epochs": 3}, "unknown option data.output.epochs"),
])
def test_bad_outputs(output, message):
    with pytest.raises(ConfigError, match=message):
        parse_data_config({"output": output})


def test_output_types_and_their_place():
    assert parse_data_config({"output": "image"}).output is None          # the images themselves
    assert parse_data_config({"output": "labeled-image-features"}).output.labeled
    with pytest.raises(ConfigError, match="belongs under data.output"):
        parse_data_config("labeled-image-features")
    with pytest.raises(ConfigError, match="labeled-image-features needs labeled samples"):
        parse_data_config({"input": "image", "output": "labeled-image-features"})
    assert not parse_data_config({"input": "image", "output": "image-features"}).output.labeled


def test_settings_output_over_train_section_over_defaults(tmp_path):
    env = features_env(tmp_path, {"type": "image-features", "size": 128},
                       train={"architecture": "mobilenet", "size": 96, "epochs": 3})
    settings = parse_data_config(env.data_config).output.settings(env)
    assert settings["architecture"] == "mobilenet" and settings["size"] == 128
    assert settings["weights"] == "imagenet" and settings["resize"] == "fill"


def test_train_warns_about_output_settings_it_overrides(capsys):
    output = parse_data_config({"output": {"type": "image-features", "architecture": "xception",
                                           "size": "auto"}}).output
    warn_ignored(output, {"architecture": "mobilenet", "size": "auto", "alpha": 2.0})
    warned = capsys.readouterr().err
    assert "architecture mobilenet (data.output: xception)" in warned
    assert "size" not in warned and "alpha" not in warned
