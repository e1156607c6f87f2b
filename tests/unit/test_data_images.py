"""Decoding sample images: formats, EXIF orientation, colour modes, bad files, resizing."""
import io

import numpy as np
import pytest
from PIL import Image

from vergeml.data.images import (BadImageError, IMAGE_EXTENSIONS, fit_to_size, load_image,
                                 verify_image)
from vergeml.errors import VergeMLError

RED = np.zeros((10, 20, 3), np.uint8)
RED[..., 0] = 200


@pytest.mark.parametrize("ext,fmt", [("jpg", "JPEG"), ("jpeg", "JPEG"), ("png", "PNG"),
                                     ("bmp", "BMP"), ("gif", "GIF"), ("webp", "WEBP"),
                                     ("tiff", "TIFF"), ("tif", "TIFF")])
def test_every_format_loads_as_rgb(tmp_path, ext, fmt):
    path = tmp_path / f"x.{ext}"
    Image.fromarray(RED).save(path, format=fmt)
    img = load_image(path)
    assert img.mode == "RGB" and img.size == (20, 10)
    assert abs(int(np.asarray(img)[5, 10, 0]) - 200) < 12
    assert f".{ext}" in IMAGE_EXTENSIONS


def test_gif_uses_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    pixel = np.asarray(load_image(tmp_path / "a.gif"))[0, 0]
    assert pixel[0] > 200 and pixel[2] < 50


def test_exif_orientation_is_applied(tmp_path):
    img = Image.fromarray(RED)  # 20 wide, 10 high
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when displayed
    img.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").size == (10, 20)


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "I;16", "I", "F", "CMYK", "1"])
def test_modes_become_rgb(tmp_path, mode):
    base = Image.fromarray(RED).convert("RGBA") if mode in ("RGBA", "LA") else Image.fromarray(RED)
    if mode in ("I;16", "I", "F"):
        img = Image.fromarray((np.arange(200).reshape(10, 20) * 300).astype(np.uint16)).convert(mode) \
            if mode != "I;16" else Image.fromarray((np.arange(200).reshape(10, 20) * 300).astype(np.uint16))
        path = tmp_path / "x.tiff"
    else:
        img = base.convert(mode)
        path = tmp_path / ("x.tiff" if mode in ("CMYK", "F") else "x.png")
    img.save(path)
    out = load_image(path)
    assert out.mode == "RGB" and out.size == (20, 10)
    arr = np.asarray(out)
    if mode in ("L", "I;16", "I", "F", "LA", "1"):
        assert (arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all()


def test_sixteen_bit_is_scaled_not_clipped(tmp_path):
    img = Image.fromarray(np.full((4, 4), 32768, np.uint16))
    img.save(tmp_path / "deep.png")
    value = int(np.asarray(load_image(tmp_path / "deep.png"))[0, 0, 0])
    assert 120 <= value <= 135


def test_transparency_is_composited_on_black(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 255           # white, but fully transparent ...
    rgba[0, 0, 3] = 255           # ... except one opaque pixel
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    arr = np.asarray(load_image(tmp_path / "t.png"))
    assert arr[0, 0].tolist() == [255, 255, 255] and arr[1, 1].tolist() == [0, 0, 0]


def test_palette_with_transparency(tmp_path):
    img = Image.new("P", (4, 4), 1)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.info["transparency"] = 1
    img.save(tmp_path / "p.png", transparency=1)
    assert np.asarray(load_image(tmp_path / "p.png")).max() == 0


@pytest.mark.parametrize("content,reason", [
    (b"", "not an image"), (b"hello, I am text", "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not an image"),
])
def test_garbage_is_a_bad_image(tmp_path, content, reason):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(BadImageError) as info:
        load_image(path)
    assert isinstance(info.value, VergeMLError)
    assert str(path) in info.value.message and reason in info.value.reason


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files_are_bad(tmp_path, fmt):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, fmt)
    data = buf.getvalue()[: len(buf.getvalue()) // 2]
    (tmp_path / "cut").write_bytes(data)
    with pytest.raises(BadImageError):
        load_image(tmp_path / "cut")
    assert verify_image(data) == "truncated file"
    assert verify_image(buf.getvalue()) == ""


def test_missing_file_is_bad(tmp_path):
    with pytest.raises(BadImageError, match="nope.jpg"):
        load_image(tmp_path / "nope.jpg")


@pytest.mark.parametrize("mode", ["fill", "aspect-fill", "aspect-fit"])
def test_fit_to_size(mode):
    img = Image.fromarray(np.full((10, 40, 3), 255, np.uint8))
    out = fit_to_size(img, 16, mode)
    assert out.size == (16, 16)
    arr = np.asarray(out)
    if mode == "aspect-fit":   # letterboxed on black, top and bottom
        assert arr[0, 8].max() == 0 and arr[8, 8].min() == 255
    else:
        assert arr.min() > 200
    assert fit_to_size(img, (8, 4), mode).size == (8, 4)


def test_fit_to_size_rejects_unknown_mode():
    with pytest.raises(ValueError):
        fit_to_size(Image.new("RGB", (4, 4)), 2, "stretch")
