"""``quality`` findings (vergeml/doctor/quality.py) on tiny generated images."""
import numpy as np
import pytest
from PIL import Image, ImageFilter

from vergeml.doctor import quality
from vergeml.doctor.audit_data import AuditData
from vergeml.doctor.quality import find_quality_issues


def texture(seed, size=(96, 96)):
    """A sharp, mid-grey, varied picture: what a normal photo looks like to the checks."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(40, 216, (size[1] // 4 + 1, size[0] // 4 + 1, 3), dtype=np.uint8)
    return Image.fromarray(np.kron(blocks, np.ones((4, 4, 1), np.uint8))[:size[1], :size[0]])


def write_set(tmp_path, extra=()):
    """Twelve normal pictures plus ``extra`` ``(name, image or bytes)``; the AuditData."""
    items = [(f"normal-{i}.png", texture(i)) for i in range(12)] + list(extra)
    paths = []
    for name, image in items:
        path = tmp_path / name
        if isinstance(image, bytes):
            path.write_bytes(image)
        else:
            image.save(path)
        paths.append(path)
    n = len(paths)
    quality.image_stats.cache_clear()
    return AuditData(files=[f"samples/x/{p.name}" for p in paths], labels=np.zeros(n, int), label_names=["x"],
                     splits=["train"] * n, digests=[str(i) for i in range(n)], features=np.zeros((n, 4)),
                     paths=[str(p) for p in paths])


def flagged(findings):
    return {f.files[0].rsplit("/", 1)[-1]: f.why for f in findings}


def test_clean_set_has_no_quality_findings(tmp_path):
    assert find_quality_issues(write_set(tmp_path)) == []


@pytest.mark.parametrize("name,image,words", [
    ("black.png", Image.new("RGB", (96, 96), (0, 0, 0)), ["near-constant", "very dark"]),
    ("white.png", Image.new("RGB", (96, 96), (255, 255, 255)), ["near-constant", "very bright"]),
    ("grey.png", Image.new("RGB", (96, 96), (128, 120, 125)), ["near-constant"]),
    ("tiny.png", texture(99, (12, 10)), ["tiny: 12x10 px"]),
    ("banner.png", texture(98, (480, 60)), ["extreme aspect ratio 8.0:1"]),
    ("blurry.png", texture(97).filter(ImageFilter.GaussianBlur(6)), ["blurry"]),
    ("dark.png", Image.fromarray((np.asarray(texture(96)) // 20).astype(np.uint8)), ["very dark"]),
])
def test_each_problem_is_found(tmp_path, name, image, words):
    found = find_quality_issues(write_set(tmp_path, [(name, image)]))
    assert list(flagged(found)) == [name]
    assert all(word in found[0].why for word in words), found[0].why
    assert found[0].kind == "quality" and 0 < found[0].score <= 1
    assert found[0].labels == ("x",) and found[0].splits == ("train",)


def test_unreadable_from_bad_files_and_from_decoding(tmp_path):
    data = write_set(tmp_path, [("cut.jpg", b"\xff\xd8\xff\xe0 truncated")])
    found = find_quality_issues(data, bad_files=[("samples/x/gone.jpg", "truncated file")])
    why = flagged(found)
    assert set(why) == {"cut.jpg", "gone.jpg"}
    assert why["gone.jpg"] == "unreadable: truncated file"
    assert why["cut.jpg"].startswith("unreadable: ")
    assert all(f.score == 1.0 for f in found)


def test_a_file_named_in_bad_files_is_reported_once(tmp_path):
    data = write_set(tmp_path, [("cut.jpg", b"junk")])
    found = find_quality_issues(data, bad_files=[("samples/x/cut.jpg", "not an image")])
    assert [f.why for f in found] == ["unreadable: not an image"]


def test_a_set_of_small_soft_pictures_is_not_all_flagged(tmp_path):
    """Thresholds relative to the set: 8 x 8 digits are not 'tiny', soft pictures not 'blurry'."""
    small = [(f"digit-{i}.png", texture(i, (8, 8)).filter(ImageFilter.GaussianBlur(1))) for i in range(12)]
    paths = []
    for name, image in small:
        image.save(tmp_path / name)
        paths.append(tmp_path / name)
    quality.image_stats.cache_clear()
    data = AuditData(files=[p.name for p in paths], labels=np.zeros(12, int), label_names=["x"],
                     splits=["train"] * 12, digests=[str(i) for i in range(12)], features=np.zeros((12, 4)),
                     paths=[str(p) for p in paths])
    assert find_quality_issues(data) == []


def test_image_stats_reads_small_and_keeps_a_thumbnail(tmp_path):
    path = tmp_path / "big.jpg"
    texture(1, (1200, 900)).save(path, quality=90)
    stats = quality.image_stats((str(path),))[0]
    assert (stats.width, stats.height) == (1200, 900) and stats.error == ""
    assert stats.thumb.shape == (32, 32, 3) and stats.thumb.dtype == np.uint8
    assert 40 < stats.mean < 216 and stats.sharpness > quality.BLUR
