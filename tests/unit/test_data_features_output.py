"""``data.output`` feature types: validation, settings, and ``ml preprocess`` writing ``.npy``."""
import subprocess
import sys

import numpy as np
import pytest

from tests.unit.test_data_helpers import digits_project, make_env
from vergeml.commands.preprocess import PreprocessCommand
from vergeml.config import ProjectFile
from vergeml.data import load_dataset
from vergeml.data.config import parse_data_config
from vergeml.env import Environment
from vergeml.errors import ConfigError
from vergeml.models.imagenet.outputs import warn_ignored

MOBILENET = {"architecture": "mobilenet", "alpha": 0.25, "size": 96}


def features_env(root, output, train=None, **settings):
    """make_env plus a ``train:`` section in the project file."""
    env = make_env(root, data={"output": output}, val_split="4", test_split="4", **settings)
    project = ProjectFile(data={**env.project.data, "train": train or {}})
    return Environment(root, project, settings=env.settings)


def preprocess(env, directory="pre", **args):
    return PreprocessCommand().run({"split": "all", "num-samples": None, "directory": directory,
                                    **args}, env)


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


@pytest.mark.filterwarnings("ignore::vergeml.models.imagenet.backbones.SizeWarning")
def test_preprocess_writes_feature_vectors_shared_with_training(tmp_path, keras_home, monkeypatch,
                                                                capsys):
    from vergeml.models.imagenet.features import FeatureExtractor
    from vergeml.models.imagenet.feature_cache import cached_features
    monkeypatch.setenv("VERGEML_OFFLINE", "1")
    root = digits_project(tmp_path / "p", count=24)
    env = features_env(root, "labeled-image-features", train=MOBILENET)
    assert preprocess(env) == 0
    assert "cache: 0 hit, 24 new" in capsys.readouterr().out
    dataset = load_dataset(env, progress=False)
    extractor = FeatureExtractor("mobilenet", alpha=0.25, size=96, seed=env.random_seed)
    samples = [s for split in ("train", "val", "test") for s in dataset.samples(split)]
    expected = extractor.extract(np.stack([dataset.load_array(s, 96) for s in samples]))
    names = [f"{s.split}/{s.label}/{s.relpath.rsplit('/', 1)[1][:-4]}.npy" for s in samples]
    written = np.stack([np.load(root / "pre" / name) for name in names])
    assert written.dtype == np.float32 and written.shape == (24, 256)
    np.testing.assert_allclose(written, expected, rtol=1e-5, atol=1e-5)

    calls = []
    monkeypatch.setattr(FeatureExtractor, "iter_features", lambda *a, **k: calls.append(1))
    cached_features(dataset, extractor, {"resize": "fill"})         # what ml train does
    assert "cache: 24 hit, 0 new, 0 stale" in capsys.readouterr().out and not calls
    preprocess(features_env(root, "image-features", train=MOBILENET), directory="flat")
    assert "cache: 24 hit, 0 new" in capsys.readouterr().out and not calls
    assert len(list((root / "flat" / "train").glob("*.npy"))) == 16   # no label folders


def test_rerun_imports_no_tensorflow(tmp_path, keras_home):
    """Everything cached: a second ``ml preprocess`` neither extracts nor imports TensorFlow."""
    root = digits_project(tmp_path / "p", count=12)
    (root / "vergeml.yaml").write_text(
        "data: {output: labeled-image-features}\n"
        "train: {architecture: mobilenet, alpha: 0.25, size: 96, weights: none}\n")
    script = ("import sys; from vergeml.cli import main; code = main(['preprocess']); "
              "print('tensorflow' in sys.modules); sys.exit(code)")
    runs = [subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                           text=True, timeout=120, env={"VERGEML_OFFLINE": "1", "PATH": "/usr/bin",
                                                         "KERAS_HOME": str(keras_home)})
            for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    assert "cache: 0 hit, 12 new" in runs[0].stdout and runs[0].stdout.endswith("True\n")
    assert "cache: 12 hit, 0 new" in runs[1].stdout and runs[1].stdout.endswith("False\n")
