"""One pixel limit for the whole tool (issue 30, item 3): ``ml predict`` and the REST
service accept every image training accepts, big JPEGs are decoded at a reduced
scale, and Pillow never warns about an image the tool accepts."""
import io
import warnings

import numpy as np
import pytest
from PIL import Image

from tests.reliability.test_bad_samples import png_bomb
from vergeml.data import images
from vergeml.models.imagenet import predictor as predictor_module
from vergeml.models.imagenet.image_decoder import ImageDecoder

PHONE = (8160, 6144)  # a 50-megapixel phone's native size


@pytest.fixture(scope="module")
def phone_jpeg(tmp_path_factory):
    """An 8160x6144 JPEG (one colour: quick to write, 0.2 MB)."""
    path = tmp_path_factory.mktemp("photos") / "phone.jpg"
    Image.new("RGB", PHONE, (200, 120, 40)).save(path, quality=90)
    return path


def _bare_predictor(size=224, ops=()):
    """The decoding every predictor and the export check share, without a model."""
    return ImageDecoder(ops, size, "fill")


def test_one_limit_for_the_whole_tool():
    assert images.MAX_PIXELS == 178_956_970  # what training always accepted
    assert not hasattr(predictor_module, "MAX_PIXELS")  # predict has no limit of its own
    assert Image.MAX_IMAGE_PIXELS == images.MAX_PIXELS  # Pillow warns only beyond it


def test_a_phone_photo_is_predicted_at_a_reduced_scale(phone_jpeg):
    predictor = _bare_predictor()
    assert predictor.draft == (224, 224)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a DecompressionBombWarning would fail here
        img = predictor.open_path(str(phone_jpeg))()
        assert img.size == (1020, 768)  # 1/8 scale, the smallest there is
        pixels = predictor.decode(img)
    assert pixels.shape == (224, 224, 3) and pixels.dtype == np.float32
    np.testing.assert_allclose(pixels[112, 112], (200, 120, 40), atol=3)


def test_the_rest_service_decodes_the_same_way(phone_jpeg):
    predictor = _bare_predictor()
    img = predictor.open_bytes(phone_jpeg.read_bytes())()
    assert img.size == (1020, 768)


def test_no_draft_with_preprocess_operations():
    # a crop's pixel box means the full-size image
    assert _bare_predictor(ops=[object()]).draft is None
    assert _bare_predictor(size=96).draft == (96, 96)


@pytest.mark.parametrize("size, decoded", [((800, 600), (400, 300)), ((440, 600), (440, 600))])
def test_a_photo_is_decoded_at_full_size_unless_twice_the_input(tmp_path, size, decoded):
    path = tmp_path / "photo.jpg"
    Image.new("RGB", size, (10, 20, 30)).save(path)
    assert _bare_predictor().open_path(str(path))().size == decoded


# Pillow warns before the header check refuses it; ml filters that warning at import,
# but pytest resets the filters for every test.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_an_image_over_the_limit_is_refused_from_its_header_everywhere():
    bomb = png_bomb(14_000)  # 196 megapixels in 30 KB
    message = r"image too large \(14000x14000, 196,000,000 pixels; the limit is 178,956,970"
    with pytest.raises(images.BadImageError, match=message):
        images.decode_image(bomb, "bomb.png")
    with pytest.raises(images.BadImageError, match=message):
        _bare_predictor().open_bytes(bomb)()


def test_an_opened_image_over_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    with pytest.raises(images.BadImageError, match="11x10, 110 pixels; the limit is 100"):
        _bare_predictor().open_bytes(Image.new("RGB", (11, 10)))()


def test_a_100_megapixel_header_opens_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with Image.open(io.BytesIO(png_bomb(10_000))) as img:  # header only: no pixels
            images.check_pixels(img.size)
