"""Phase 2's memory-mapped images through the real ``tf.data`` pipeline and the fused
model: the batches are the images, and no page of the file stays resident."""
import sys

import numpy as np
import pytest

from tests.unit.test_data_helpers import image_project, make_env
from tests.unit.test_image_arrays import mapped_kb
from vergeml.data import load_dataset
from vergeml.models.imagenet.training.image_arrays import predict_images, split_images
from vergeml.models.imagenet.training.pipeline import epoch_dataset

pytestmark = [
    pytest.mark.filterwarnings("ignore::vergeml.models.imagenet.backbones.SizeWarning"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps"),
]

SIZE = 32


@pytest.fixture(scope="module")
def train_images(tmp_path_factory):
    """The memmapped training images of a project of 2 x 40 random PNGs (960 KB at 32 px)."""
    root = image_project(tmp_path_factory.mktemp("arrays") / "p", per_class=40, size=(40, 30))
    ds = load_dataset(make_env(root, val_split="0", test_split="0"), progress=False)
    images, labels = split_images(ds, "train", SIZE, "fill", progress=False)
    expected = np.stack([ds.load_array(s, SIZE, "fill") for s in ds.samples("train")])
    return images, labels, expected


def test_an_epoch_over_the_memmap_yields_its_images_and_keeps_none_resident(train_images):
    images, labels, expected = train_images
    assert isinstance(images, np.memmap) and len(images) == 80
    seen = np.zeros(len(images), bool)
    for x, y in epoch_dataset((images, labels), 8, seed=3, first_epoch=0, last_epoch=1):
        x, y = x.numpy(), y.numpy()
        rows = [int(np.flatnonzero((expected == image).all(axis=(1, 2, 3)))[0]) for image in x]
        np.testing.assert_array_equal(labels[rows], y)
        seen[rows] = True
    assert seen.all()
    assert mapped_kb(images.filename) < 64, "the pipeline left the file's pages mapped"


def test_predict_images_streams_the_memmap_to_the_same_probabilities(train_images, keras_home):
    from vergeml.models.imagenet.extraction.features import FeatureExtractor
    from vergeml.models.imagenet.training.head import build_top
    images, _, expected = train_images
    extractor = FeatureExtractor("mobilenet", alpha=0.25, size=SIZE, weights="imagenet", seed=1)
    model = extractor.full_model(build_top(extractor.dim, 2, 1, 0.0, 1))
    got = predict_images(model, extractor, images, batch_size=16)
    np.testing.assert_allclose(got, predict_images(model, extractor, expected, batch_size=16),
                               atol=1e-6, rtol=0)
    assert got.shape == (80, 2)
    assert mapped_kb(images.filename) < 64
