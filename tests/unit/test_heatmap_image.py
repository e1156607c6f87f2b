"""Heatmaps drawn over images (issue 27): the overlay, the atomic PNG and the file names."""
import os

import numpy as np
import pytest
from PIL import Image

from vergeml.models.imagenet.explain.heatmap_image import (MAX_LABEL_CHARS, colormap, heatmap_name,
                                                           overlay, resize_heatmap,
                                                           write_heatmap_png)

GREY = 128


@pytest.fixture
def image():
    return np.full((40, 60, 3), GREY, np.uint8)


@pytest.fixture
def corner_heat():
    """Hot top-left quarter, cold elsewhere, at a coarser resolution than the image."""
    heat = np.zeros((4, 6), np.float32)
    heat[:2, :3] = 1.0
    return heat


def test_overlay_has_the_image_shape_and_dtype(image, corner_heat):
    out = overlay(image, corner_heat)
    assert out.shape == image.shape and out.dtype == np.uint8


def test_hot_pixels_turn_red_and_cold_ones_blue(image, corner_heat):
    out = overlay(image, corner_heat).astype(int)
    hot, cold = out[2, 2], out[-3, -3]
    assert hot[0] - hot[2] > 40 and hot[0] - hot[1] > 40  # grey tinted red
    assert cold[2] > cold[0]
    assert np.abs(out[:20, :30] - GREY).max() > 40


def test_alpha_zero_leaves_the_image_and_alpha_one_is_the_colours(image, corner_heat):
    np.testing.assert_array_equal(overlay(image, corner_heat, alpha=0.0), image)
    colours = np.rint(colormap(resize_heatmap(corner_heat, 40, 60))).astype(np.uint8)
    np.testing.assert_array_equal(overlay(image, corner_heat, alpha=1.0), colours)


def test_heatmap_is_scaled_bilinearly():
    ramp = np.array([[0.0, 1.0]], np.float32)
    scaled = resize_heatmap(ramp, 3, 8)
    assert scaled.shape == (3, 8)
    assert np.all(np.diff(scaled[0]) >= 0) and 0.0 <= scaled.min() and scaled.max() <= 1.0
    assert len(np.unique(np.round(scaled[0], 4))) > 2  # a ramp, not nearest-neighbour steps


def test_colormap_is_turbo_and_clips():
    np.testing.assert_allclose(colormap(np.array([0.0, 1.0])), [[48, 18, 59], [122, 4, 3]])
    np.testing.assert_array_equal(colormap(np.array([-1.0, np.nan, 2.0])),
                                  colormap(np.array([0.0, 0.0, 1.0])))


def test_float_images_are_accepted(image, corner_heat):
    np.testing.assert_array_equal(overlay(image.astype(np.float32), corner_heat), overlay(image, corner_heat))


@pytest.mark.parametrize("shape", [(40, 60), (40, 60, 4)])
def test_an_image_that_is_not_rgb_is_refused(shape, corner_heat):
    with pytest.raises(ValueError, match="height, width, 3"):
        overlay(np.zeros(shape, np.uint8), corner_heat)


def test_bad_alpha_and_heatmap_are_refused(image, corner_heat):
    with pytest.raises(ValueError, match="alpha"):
        overlay(image, corner_heat, alpha=1.5)
    with pytest.raises(ValueError, match="2-D"):
        overlay(image, corner_heat[None])


def test_png_is_written_atomically_and_loads_back(tmp_path, image, corner_heat):
    path = tmp_path / "out" / "photo.cat.heatmap.png"
    assert write_heatmap_png(path, image, corner_heat) == path
    with Image.open(path) as png:
        assert png.format == "PNG" and png.mode == "RGB" and png.size == (60, 40)
        np.testing.assert_array_equal(np.asarray(png), overlay(image, corner_heat))
    assert os.listdir(path.parent) == [path.name]  # no temporary file left


def test_a_failed_write_keeps_the_old_file(tmp_path, image, corner_heat, monkeypatch):
    path = tmp_path / "photo.cat.heatmap.png"
    path.write_bytes(b"old")

    def fail(src, dst):
        raise OSError("simulated crash before the rename")
    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="simulated"):
        write_heatmap_png(path, image, corner_heat)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == [path.name]


@pytest.mark.parametrize("source, label, expected", [
    ("photo.jpg", "cat", "photo.cat.heatmap.png"),
    ("/data/samples/photo.jpeg", "cat", "photo.cat.heatmap.png"),
    ("photo.jpg", "big dog", "photo.big_dog.heatmap.png"),
    ("photo.jpg", "../../etc/passwd", "photo._.._etc_passwd.heatmap.png"),
    ("photo.jpg", "a/b\\c:d*e?", "photo.a_b_c_d_e_.heatmap.png"),
    ("photo.jpg", ".hidden", "photo.hidden.heatmap.png"),
    ("photo.jpg", "..", "photo._.heatmap.png"),
    ("photo.jpg", "", "photo._.heatmap.png"),
    ("photo.jpg", "café-2", "photo.café-2.heatmap.png"),
    ("photo.jpg", 3, "photo.3.heatmap.png"),
])
def test_heatmap_names_are_safe(source, label, expected):
    assert heatmap_name(source, label) == expected


def test_long_labels_are_cut():
    name = heatmap_name("photo.jpg", "x" * 500)
    assert name == f"photo.{'x' * MAX_LABEL_CHARS}.heatmap.png"
