"""``ml preprocess`` writing ``.npy`` feature vectors with the real MobileNet weights,
shared with training through the feature cache."""
import numpy as np
import pytest

from vergeml.commands.preprocess import PreprocessCommand
from vergeml.data import load_dataset

from tests.unit.test_data_helpers import digits_project, features_env


MOBILENET = {"architecture": "mobilenet", "alpha": 0.25, "size": 96}


def preprocess(env, directory="pre", **args):
    return PreprocessCommand().run({"split": "all", "num-samples": None, "directory": directory,
                                    **args}, env)


@pytest.mark.filterwarnings("ignore::vergeml.models.imagenet.backbones.SizeWarning")
def test_preprocess_writes_feature_vectors_shared_with_training(tmp_path, keras_home, monkeypatch,
                                                                capsys):
    from vergeml.models.imagenet.extraction.features import FeatureExtractor
    from vergeml.models.imagenet.extraction.feature_cache import cached_features
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
