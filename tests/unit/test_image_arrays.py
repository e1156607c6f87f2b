"""Phase 2's decoded images on disk (:mod:`vergeml.models.imagenet.training.image_arrays`):
memory-mapped ``.npy`` files per split, built streaming and atomically, reused,
cleaned; and :func:`~vergeml.models.imagenet.training.pipeline.take_rows`, which
reads batches from them without keeping their pages resident."""
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.unit.test_data_helpers import Counter, age, image_project, make_env, write_image
from vergeml.data import load_dataset
from vergeml.data.cache import Cache
from vergeml.models.imagenet.training import image_arrays
from vergeml.models.imagenet.training.image_arrays import (ABANDONED_AFTER, KEEP, image_stage,
                                                           split_images)
from vergeml.models.imagenet.training.pipeline import take_rows

SIZE = 32
SPLITS = {"val_split": "3", "test_split": "3"}


@pytest.fixture
def root(tmp_path):
    """A project of 2 x 8 small random PNGs."""
    return image_project(tmp_path / "p", per_class=8)


def dataset(root, **settings):
    """The project's data set, its ``load_array`` counted (``ds.load_array.calls``)."""
    ds = load_dataset(make_env(root, **{**SPLITS, **settings}), progress=False)
    ds.load_array = Counter(ds.load_array)
    return ds


def decoded(ds, split):
    return np.stack([ds.load_array.func(s, SIZE, "fill") for s in ds.samples(split)])


def folder(root):
    return root / ".cache" / "images"


def files(root, pattern="*"):
    """Names in the images folder (temporary files included), sorted."""
    return sorted(p.name for p in folder(root).glob(pattern)) if folder(root).is_dir() else []


def test_the_images_are_a_read_only_memmap_of_the_decoded_images(root, capsys):
    ds = dataset(root)
    images, labels = split_images(ds, "train", SIZE, "fill", progress=False)
    assert isinstance(images, np.memmap) and not images.flags.writeable
    assert images.shape == (10, SIZE, SIZE, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, decoded(ds, "train"))
    np.testing.assert_array_equal(labels, [s.label_index for s in ds.samples("train")])
    assert ds.load_array.calls == 10
    assert "train images cache: 0 hit, 10 new" in capsys.readouterr().out
    (name,) = files(root, "*.npy")
    assert Path(images.filename) == folder(root) / name and name.startswith(f"train-{SIZE}-fill-")
    assert set(files(root)) == {name, name.replace(".npy", ".keys")}


def test_a_second_call_decodes_nothing(root, capsys):
    split_images(dataset(root), "train", SIZE, "fill", progress=False)
    ds = dataset(root)
    images, _ = split_images(ds, "train", SIZE, "fill", progress=False)
    assert ds.load_array.calls == 0
    assert "train images cache: 10 hit, 0 new" in capsys.readouterr().out
    np.testing.assert_array_equal(images, decoded(ds, "train"))


def test_an_empty_split_is_an_empty_array(root):
    ds = dataset(root, val_split="0")
    images, labels = split_images(ds, "val", SIZE, "fill", progress=False)
    assert images.shape == (0, SIZE, SIZE, 3) and labels.shape == (0,)
    assert files(root) == []


class Stop(Exception):
    """Raised by the patched loader (as Ctrl-C would stop the build)."""


def test_an_interrupted_build_leaves_no_file_and_the_next_call_completes(root, monkeypatch):
    monkeypatch.setattr(image_arrays, "DECODE_BATCH", 2)  # stopped after some batches were written
    ds = dataset(root)
    real = ds.load_array.func

    def fail_after_four(sample, *args):
        if ds.load_array.calls > 4:
            raise Stop
        return real(sample, *args)
    ds.load_array.func = fail_after_four
    with pytest.raises(Stop):
        split_images(ds, "train", SIZE, "fill", progress=False)
    # Some batches were written first; how many more the pool decoded ahead before the
    # error reached the build depends on thread timing (under load, all of them).
    assert ds.load_array.calls > 4
    assert files(root) == []                 # neither the final name nor the temporary file
    ds = dataset(root)
    images, _ = split_images(ds, "train", SIZE, "fill", progress=False)
    assert ds.load_array.calls == 10
    np.testing.assert_array_equal(images, decoded(ds, "train"))


def add_training_image(root, seed):
    """A new image in a class folder; a project with no val/test split puts it in train."""
    write_image(root / "samples" / "cat" / f"new-{seed}.png", seed=100 + seed)
    age(root)


def test_changed_samples_get_a_new_file_copying_the_rows_they_share(root):
    first, _ = split_images(dataset(root, val_split="0", test_split="0"), "train", SIZE, "fill",
                            progress=False)
    add_training_image(root, 1)
    ds = dataset(root, val_split="0", test_split="0")
    images, _ = split_images(ds, "train", SIZE, "fill", progress=False)
    assert images.filename != first.filename and len(images) == len(first) + 1
    assert ds.load_array.calls == 1          # only the new image; the 16 others are copied
    np.testing.assert_array_equal(images, decoded(ds, "train"))
    assert len(files(root, "*.npy")) == 2    # the one before is kept: it serves as a source


def test_only_the_most_recently_used_files_of_a_split_are_kept(root):
    names = []
    for change in range(KEEP + 2):
        if change:
            add_training_image(root, change)
        images, _ = split_images(dataset(root, val_split="0", test_split="0"), "train", SIZE,
                                 "fill", progress=False)
        names.append(Path(images.filename).name)
        split_images(dataset(root, val_split="0", test_split="0"), "train", SIZE * 2, "fill",
                     progress=False)
    kept = names[-KEEP:]
    assert files(root, f"train-{SIZE}-*.npy") == sorted(kept)
    assert files(root, f"train-{SIZE}-*.keys") == sorted(n.replace(".npy", ".keys") for n in kept)
    assert len(files(root, f"train-{SIZE * 2}-*.npy")) == KEEP  # another size is its own group
    # Going back to an older sample list reuses its file while it is kept, and marks it used.
    (root / "samples" / "cat" / f"new-{KEEP + 1}.png").unlink()
    ds = dataset(root, val_split="0", test_split="0")
    images, _ = split_images(ds, "train", SIZE, "fill", progress=False)
    assert Path(images.filename).name == names[-2] and ds.load_array.calls == 0


def test_a_dead_builds_temporary_file_is_deleted_a_live_ones_kept(root):
    fcntl = pytest.importorskip("fcntl")
    folder(root).mkdir(parents=True)
    old = time.time() - ABANDONED_AFTER - 5
    dead, live, young = (folder(root) / f".train-{SIZE}-fill-{n}.npy.x{n}.tmp.npy"
                         for n in ("dead", "live", "young"))
    for path in (dead, live, young):
        path.write_bytes(b"partial")
    for path in (dead, live):
        os.utime(path, (old, old))
    orphan = folder(root) / f"val-{SIZE}-fill-{'0' * 16}.keys"
    orphan.write_text("key\n")
    with open(live, "rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)   # a build in progress holds its lock
        split_images(dataset(root), "train", SIZE, "fill", progress=False)
    assert not dead.exists() and not orphan.exists()
    assert live.exists() and young.exists()


def test_duplicate_samples_are_decoded_once(root):
    for name in ("twin-a.png", "twin-b.png"):    # same content: same key
        write_image(root / "samples" / "dog" / name, seed=999)
    age(root)
    ds = dataset(root, val_split="0", test_split="0")
    images, _ = split_images(ds, "train", SIZE, "fill", progress=False)
    assert len(images) == 18 and ds.load_array.calls == 17
    np.testing.assert_array_equal(images, decoded(ds, "train"))


@pytest.mark.parametrize("mode", ["none", "mem", "disk-in"])
def test_other_cache_modes_keep_no_file(root, mode, capsys):
    ds = dataset(root, cache=mode)
    images, _ = split_images(ds, "train", SIZE, "fill", progress=False)
    assert isinstance(images, np.memmap) and not images.flags.writeable
    np.testing.assert_array_equal(images, decoded(ds, "train"))
    assert files(root) == []                 # an unnamed temporary file, gone with the run
    assert f"train images cache: off for images (mode {mode})" in capsys.readouterr().out
    ds.load_array.calls = 0
    split_images(ds, "train", SIZE, "fill", progress=False)
    assert ds.load_array.calls == 10         # nothing kept: decoded again


def test_the_old_sqlite_image_stage_is_emptied(root):
    ds = dataset(root)
    stage = image_stage(SIZE, "fill")
    with ds.open_cache() as cache:
        cache.put(stage, "some-key", np.zeros((SIZE, SIZE, 3), np.uint8))
    split_images(ds, "train", SIZE, "fill", progress=False)
    with Cache("disk", root / ".cache") as cache:
        assert cache.get(stage, "some-key") is None


def test_the_decode_fault_point_is_reached_per_decoded_image(root, monkeypatch):
    reached = []
    monkeypatch.setattr(image_arrays.faults, "point", lambda name, detail=None: reached.append(name))
    split_images(dataset(root), "train", SIZE, "fill", progress=False)
    assert reached.count("fine-tune.decode") == 10


# -- take_rows ---------------------------------------------------------------------------

def mapped_kb(path):
    """Resident KB of this process's mappings of ``path`` (/proc/self/smaps)."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5 and ":" not in head[0]:
            inside = len(head) >= 6 and head[-1] == str(path)
        elif inside and line.startswith("Rss:"):
            total += int(head[1])
    return total


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")
def test_take_rows_leaves_no_page_of_a_memmap_resident(tmp_path):
    path = tmp_path / "rows.npy"
    rows = np.random.default_rng(0).integers(0, 256, (512, 64, 64, 3), dtype=np.uint8)  # 6 MB
    np.save(path, rows)
    images = np.load(path, mmap_mode="r")
    order = np.random.default_rng(1).permutation(len(images))
    for start in range(0, len(order), 32):
        batch = order[start:start + 32]
        got = take_rows(images, batch)
        assert type(got) is np.ndarray
        np.testing.assert_array_equal(got, rows[batch])
    assert mapped_kb(path) < 256, "the rows read stayed mapped"
    for start in range(0, len(order), 32):  # plain indexing, for contrast: the test measures
        images[order[start:start + 32]]
    assert mapped_kb(path) > 4096


def test_take_rows_of_an_array_in_memory_is_plain_indexing():
    array = np.arange(24).reshape(6, 4)
    np.testing.assert_array_equal(take_rows(array, np.array([4, 1])), array[[4, 1]])


def test_take_rows_leaves_an_anonymous_mapping_alone():
    """MADV_DONTNEED would zero an anonymous mapping: only a memmap's file mapping is released."""
    import mmap
    buffer = mmap.mmap(-1, 4096 * 16, flags=mmap.MAP_PRIVATE)  # as malloc maps big blocks
    array = np.ndarray((16, 4096), np.uint8, buffer=buffer)  # based on the mmap, as a memmap is
    array[:] = 7
    take_rows(array, np.array([3, 5]))
    assert (array == 7).all()
    del array
    buffer.close()
