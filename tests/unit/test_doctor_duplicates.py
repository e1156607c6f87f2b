"""``duplicate``, ``conflict`` and ``leak`` findings (vergeml/doctor/duplicates.py) on tiny generated images."""
import hashlib

import numpy as np
import pytest
from PIL import Image

from vergeml.doctor import alignment, duplicates
from vergeml.doctor.audit_data import AuditData
from vergeml.doctor.duplicates import find_duplicates


def blobs(seed, size=96):
    """A smooth random colour picture: distinct seeds give unrelated pictures."""
    rng = np.random.default_rng(seed)
    small = Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8))
    return small.resize((size, size), Image.Resampling.BICUBIC)


def near_copy(image, kind):
    """The benchmark's changes: JPEG quality 60, resize by 0.8, crop by 5%."""
    if kind in ("resize", "all"):
        image = image.resize((round(image.width * 0.8), round(image.height * 0.8)), Image.Resampling.BICUBIC)
    if kind in ("crop", "all"):
        cut = max(1, round(image.width * 0.05))
        image = image.crop((cut // 2, cut // 2, image.width - (cut - cut // 2), image.height - (cut - cut // 2)))
    return image


class Folder:
    """Samples written to ``tmp_path`` with synthetic features (a copy's are its original's plus noise)."""

    def __init__(self, tmp_path, count=30, dims=32, seed=0):
        self.root = tmp_path
        self.rng = np.random.default_rng(seed)
        self.rows = []   # (file, label, split, feature, path)
        for index in range(count):
            self.add(blobs(index), f"{'ab'[index % 2]}", "train", self.rng.standard_normal(dims), f"{index:03d}")

    def add(self, image, label, split, feature, name, fmt="PNG", quality=95):
        path = self.root / label / f"{name}.{'png' if fmt == 'PNG' else 'jpg'}"
        path.parent.mkdir(exist_ok=True)
        image.save(path, fmt, quality=quality) if fmt == "JPEG" else image.save(path, fmt)
        self.rows.append((f"samples/{label}/{path.name}", label, split, np.asarray(feature, np.float32), path))
        return len(self.rows) - 1

    def copy_of(self, index, label=None, split="train", kind="all", name=None):
        file, old_label, _, feature, path = self.rows[index]
        noisy = feature + self.rng.normal(0, 0.05, feature.shape)
        return self.add(near_copy(Image.open(path).convert("RGB"), kind), label or old_label, split, noisy,
                        name or f"copy-{len(self.rows)}", fmt="JPEG", quality=60)

    def data(self):
        names = sorted({r[1] for r in self.rows})
        return AuditData(files=[r[0] for r in self.rows], labels=np.array([names.index(r[1]) for r in self.rows]),
                         label_names=names, splits=[r[2] for r in self.rows],
                         digests=[hashlib.sha256(r[4].read_bytes()).hexdigest() for r in self.rows],
                         features=np.stack([r[3] for r in self.rows]), paths=[str(r[4]) for r in self.rows])


def kinds(findings):
    return sorted(f.kind for f in findings)


def test_clean_set_has_no_duplicates(tmp_path):
    assert find_duplicates(Folder(tmp_path).data()) == []


def test_exact_duplicate_by_digest(tmp_path):
    folder = Folder(tmp_path)
    _, label, _, feature, path = folder.rows[4]
    folder.add(Image.open(path), label, "train", feature, "same")
    found = find_duplicates(folder.data())
    assert kinds(found) == ["duplicate"]
    assert set(found[0].files) == {folder.rows[4][0], folder.rows[-1][0]}
    assert found[0].score == 1.0
    assert found[0].why == "same content digest"


@pytest.mark.parametrize("kind", ["jpeg", "resize", "crop", "all"])
def test_near_duplicate_found_with_pixels(tmp_path, kind):
    folder = Folder(tmp_path)
    copy = folder.copy_of(7, kind=kind)
    found = find_duplicates(folder.data())
    assert kinds(found) == ["duplicate"]
    assert set(found[0].files) == {folder.rows[7][0], folder.rows[copy][0]}
    assert 0.5 <= found[0].score <= 1
    assert "cosine" in found[0].why and "thumbnails" in found[0].why


def test_conflict_only_when_labels_differ_and_leak_only_across_splits(tmp_path):
    folder = Folder(tmp_path)
    conflict = folder.copy_of(2, label="b")            # 2 is an "a"
    leak = folder.copy_of(5, split="test")
    plain = folder.copy_of(9)
    found = find_duplicates(folder.data())
    by_kind = {}
    for finding in found:
        by_kind.setdefault(finding.kind, []).append(set(finding.files))
    files = [r[0] for r in folder.rows]
    assert sorted(map(sorted, by_kind["duplicate"])) == sorted(
        sorted({files[a], files[b]}) for a, b in ((2, conflict), (5, leak), (9, plain)))
    assert by_kind["conflict"] == [{files[2], files[conflict]}]
    assert by_kind["leak"] == [{files[5], files[leak]}]
    leak_finding = next(f for f in found if f.kind == "leak")
    assert leak_finding.splits == ("train", "test")     # training first
    assert "test" in leak_finding.why
    conflict_finding = next(f for f in found if f.kind == "conflict")
    assert set(conflict_finding.labels) == {"a", "b"}


def test_a_group_of_copies_is_one_finding(tmp_path):
    folder = Folder(tmp_path)
    copies = [folder.copy_of(3, kind=kind) for kind in ("jpeg", "resize", "crop")]
    found = find_duplicates(folder.data())
    assert kinds(found) == ["duplicate"]
    assert set(found[0].files) == {folder.rows[i][0] for i in [3, *copies]}
    assert found[0].why.startswith("4 copies")


def test_features_alone_without_pixels():
    rng = np.random.default_rng(1)
    features = rng.standard_normal((200, 64)).astype(np.float32)
    features[150] = features[20] + rng.normal(0, 0.02, 64)
    features[151] = features[60] + rng.normal(0, 0.02, 64)
    data = AuditData(files=[f"samples/x/{i}.jpg" for i in range(200)], labels=np.zeros(200, int),
                     label_names=["x"], splits=["train"] * 200, digests=[str(i) for i in range(200)],
                     features=features, paths=[""] * 200)
    found = find_duplicates(data)
    assert sorted(sorted(f.files) for f in found) == [["samples/x/150.jpg", "samples/x/20.jpg"],
                                                      ["samples/x/151.jpg", "samples/x/60.jpg"]]
    assert all(f.why.startswith("cosine") and "thumbnails" not in f.why for f in found)


def test_an_unreadable_file_is_no_near_duplicate(tmp_path):
    folder = Folder(tmp_path)
    copy = folder.copy_of(7, kind="jpeg")
    folder.rows[copy][4].write_bytes(b"not an image")
    data = folder.data()
    table = duplicates.pair_table(data)
    assert np.isinf(table["pixel"][(table["i"] == copy) | (table["j"] == copy)]).all()
    assert find_duplicates(data) == []


def test_tiny_sets():
    for n in (0, 1, 2):
        data = AuditData(files=[f"f{i}" for i in range(n)], labels=np.zeros(n, int), label_names=["x"],
                         splits=["train"] * n, digests=["same"] * n, features=np.ones((n, 8), np.float32),
                         paths=[""] * n)
        found = find_duplicates(data)
        assert kinds(found) == (["duplicate"] if n == 2 else [])


def textured(seed=3, size=200):
    """A detailed random grey picture (fine texture: shifts and scales change every pixel)."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (40, 40), dtype=np.uint8)).resize((size, size),
                                                                                   Image.Resampling.BICUBIC)


def grey64(image):
    return np.asarray(image.convert("L").resize((alignment.SIDE, alignment.SIDE), Image.Resampling.BOX),
                      np.float32)[None]


@pytest.mark.parametrize("window", [(0, 0, 200, 200), (6, 4, 196, 194), (10, 0, 200, 200), (3, 8, 193, 198)])
def test_alignment_finds_a_shifted_rescaled_copy(window):
    base = textured()
    copy = base.crop(window).resize((150, 150), Image.Resampling.BICUBIC)
    found = alignment.align(grey64(base), grey64(copy))
    left, top, right, bottom = window
    expected = (right - left) * (bottom - top) / 200 ** 2   # the copy's frame lies inside the original's
    assert found["ncc"][0] > 0.97
    assert found["overlap"][0] == pytest.approx(expected, abs=0.03)


def test_alignment_two_crops_overlapping_60_percent_are_told_apart():
    base = textured(size=260)
    first, second = base.crop((0, 0, 200, 200)), base.crop((25, 25, 225, 225))   # intersection over union 0.62
    found = alignment.align(grey64(first), grey64(second))
    assert found["ncc"][0] > 0.97                      # the shared part aligns ...
    assert found["overlap"][0] == pytest.approx(0.62, abs=0.03)   # ... but the frames differ
    unrelated = alignment.align(grey64(textured(3)), grey64(textured(4)))
    assert unrelated["ncc"][0] < 0.5


def test_two_crops_of_one_picture_are_no_duplicates(tmp_path):
    folder = Folder(tmp_path)
    big = blobs(100, size=160)
    first = folder.add(big.crop((0, 0, 120, 120)), "a", "train", folder.rng.standard_normal(32), "left")
    feature = folder.rows[first][3] + folder.rng.normal(0, 0.05, 32)
    second = folder.add(big.crop((20, 20, 140, 140)), "a", "train", feature, "right")   # overlap 0.6
    table = duplicates.pair_table(folder.data())
    pair = (table["i"] == first) & (table["j"] == second)
    assert pair.any() and table["aligned"][pair].all() and table["overlap"][pair] < duplicates.OVERLAP_MIN
    assert find_duplicates(folder.data()) == []
