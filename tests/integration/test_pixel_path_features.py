"""Features of the pixel path within a stated tolerance of the original's (issue 29).

MobileNet a0.25 (the real ImageNet weights) at 224 px on real ants and bees:
the features of ``ml``'s pixels (a JPEG decoded at a reduced DCT scale when it is
twice the input or more, bilinear fit) against those of the original's full decode
+ Lanczos. Measured: cosine 0.990 at worst, 0.995 on average; the test accuracy
over 3 seeds is the same (bench/bench_pixel_path.py).
"""
import numpy as np
import pytest

from tests.unit.test_pixel_path import SIZE, original_fit, photo_bytes
from vergeml.data.processing import Processing
from vergeml.models.imagenet.extraction.features import FeatureExtractor

WORST_COSINE = 0.98
MEAN_COSINE = 0.99


@pytest.fixture
def extractor(keras_home, monkeypatch):
    monkeypatch.setenv("VERGEML_OFFLINE", "1")
    return FeatureExtractor("mobilenet", alpha=0.25, size=SIZE)


@pytest.mark.parametrize("size", [None, (1600, 1200)], ids=["photos", "enlarged-photos"])
def test_features_stay_within_tolerance_of_full_decode_and_lanczos(extractor, size):
    datas = photo_bytes(8, size)
    ours = extractor.extract(np.stack([Processing().array(d, "p.jpg", "test", 0, SIZE)
                                       for d in datas]))
    original = extractor.extract(np.stack([original_fit(d) for d in datas]))
    cosine = (ours * original).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(original, axis=1)
    assert cosine.min() >= WORST_COSINE, cosine
    assert cosine.mean() >= MEAN_COSINE, cosine
