"""The pixel path: how every image is fitted to a model's input (issue 29, part 3).

A JPEG at least twice the input size is decoded at a reduced DCT scale, then
resized with the bilinear filter. Training, the Ray workers and prediction run
the same code, so their pixels are equal; against the full decode + Lanczos of
the original they differ within the tolerance stated here (measured on the real
ants and bees: mean 1.9 levels of 255; the features' cosine is in
tests/integration/test_pixel_path_features.py).
"""
import io

import numpy as np
import pytest
from PIL import Image

from tests.conftest import WEIGHTS_DIR
from vergeml.data import images
from vergeml.data.fingerprint import sample_key
from vergeml.data.operations import Crop
from vergeml.data.processing import Processing
from vergeml.models.imagenet.image_decoder import ImageDecoder

PHOTOS = WEIGHTS_DIR.parent / "data" / "hymenoptera" / "train"
SIZE = 224
# Mean absolute difference, in levels of 255, allowed between the pixel path and the
# original's full decode + Lanczos: over the photos (1.9 measured on all 396) and in
# any one photo (6.5 at most; the sharper filter differs most on fine texture).
MEAN_TOLERANCE = 3.0
PHOTO_TOLERANCE = 8.0


def photo_bytes(count=6, size=None):
    """Real photos (every 20th ant and bee), as JPEG bytes; enlarged to ``size`` if given."""
    paths = sorted(PHOTOS.glob("*/*.jpg"))[::20][:count]
    if not paths:
        pytest.fail(f"no photos at {PHOTOS}")
    if size is None:
        return [p.read_bytes() for p in paths]
    encoded = []
    for path in paths:
        buffer = io.BytesIO()
        Image.open(path).convert("RGB").resize(size, Image.BICUBIC).save(buffer, "JPEG", quality=90)
        encoded.append(buffer.getvalue())
    return encoded


def original_fit(data):
    """The original's pixels: the whole JPEG decoded, then Lanczos."""
    return images.to_array(images.fit_to_size(images.decode_image(data), SIZE, "fill", "antialias"))


@pytest.mark.parametrize("size, decoded", [((1600, 1200), (400, 300)), ((900, 500), (450, 250)),
                                           ((440, 900), (440, 900))])
def test_a_jpeg_twice_the_input_is_decoded_at_a_reduced_scale_never_below_the_input(size, decoded):
    data = photo_bytes(1, size)[0]
    assert Processing().decode(data, "photo.jpg", SIZE).size == decoded  # 1/4, 1/2, whole


def test_without_a_fit_to_follow_the_whole_image_is_decoded():
    data = photo_bytes(1, (1600, 1200))[0]
    assert Processing().decode(data, "big.jpg").size == (1600, 1200)


def test_operations_before_the_fit_get_the_whole_image():
    crop = Crop(width=100, height=100)
    data = photo_bytes(1, (1600, 1200))[0]
    assert Processing(ops=(crop,)).decode(data, "big.jpg", SIZE).size == (1600, 1200)


@pytest.mark.parametrize("size", [None, (1600, 1200)], ids=["photos", "enlarged-photos"])
def test_pixels_stay_within_tolerance_of_full_decode_and_lanczos(size):
    means = []
    for data in photo_bytes(12, size):
        ours = Processing().array(data, "photo.jpg", "test", 0, SIZE).astype(np.int16)
        assert ours.shape == (SIZE, SIZE, 3)
        means.append(np.abs(ours - original_fit(data)).mean())
    assert np.mean(means) <= MEAN_TOLERANCE, means
    assert max(means) <= PHOTO_TOLERANCE, means


def test_the_reduced_scale_decode_alone_is_within_tolerance_of_the_full_decode():
    for data in photo_bytes(size=(1600, 1200)):
        drafted = Processing().array(data, "photo.jpg", "test", 0, SIZE).astype(np.int16)
        full = images.to_array(images.fit_to_size(images.decode_image(data), SIZE))
        assert np.abs(drafted - full).mean() <= 1.5  # 0.6 measured


@pytest.mark.parametrize("size", [None, (1600, 1200)], ids=["photos", "enlarged-photos"])
@pytest.mark.parametrize("resize", ["fill", "aspect-fill", "aspect-fit"])
def test_training_and_prediction_compute_the_same_pixels(size, resize):
    decoder = ImageDecoder([], SIZE, resize)
    for data in photo_bytes(2, size):
        trained = Processing().array(data, "photo.jpg", "test", 0, SIZE, resize)
        predicted = decoder.decode(decoder.open_bytes(data))
        np.testing.assert_array_equal(predicted, trained.astype(np.float32))


def test_the_fit_to_a_model_input_shrinks_bilinear_and_enlarges_with_lanczos():
    img = Image.open(io.BytesIO(photo_bytes(1)[0])).convert("RGB")
    assert images.FIT_METHOD == "bilinear"
    np.testing.assert_array_equal(np.asarray(images.fit_to_size(img, SIZE)),
                                  np.asarray(img.resize((SIZE, SIZE), Image.BILINEAR)))
    small = img.resize((8, 8))
    np.testing.assert_array_equal(np.asarray(images.fit_to_size(small, SIZE)),
                                  np.asarray(small.resize((SIZE, SIZE), Image.LANCZOS)))


def test_the_pixel_path_is_part_of_every_cache_key(monkeypatch):
    before = sample_key("abc", [], None)
    monkeypatch.setattr(images, "PIXEL_PATH", "another-decoder")
    assert sample_key("abc", [], None) != before
