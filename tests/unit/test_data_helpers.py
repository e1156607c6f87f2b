"""Shared helpers for the data tests (no tests here): projects, environments, counters,
cache builds, and the data.output environments (used by tests/unit, tests/integration
and tests/e2e alike: nothing here imports TensorFlow)."""
import functools
import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vergeml.settings.project_settings import GLOBAL_OPTIONS, ProjectFile
from vergeml.data import load_dataset
from vergeml.data.split import SPLITS
from vergeml.settings.environment import Environment

OLD = time.time() - 3600  # an mtime safely outside the "racy" window


def make_env(root, data=None, lines=None, **settings):
    """An Environment for ``root`` with a ``data:`` section and global settings."""
    project = ProjectFile(data={"data": data} if data is not None else {}, lines=lines or {})
    raw = {k.replace("_", "-"): str(v) for k, v in settings.items()}
    return Environment(root, project, settings=GLOBAL_OPTIONS.resolve(raw, {}))


def write_image(path, array=None, size=(16, 12), seed=0, fmt=None):
    """Write an RGB image with distinct content; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if array is None:
        array = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(array).save(path, format=fmt)
    return path


def age(root):
    """Set every file's mtime an hour back, as for images copied long ago."""
    for path in Path(root).rglob("*"):
        if path.is_file():
            os.utime(path, (OLD, OLD))


def image_project(root, classes=None, per_class=6, size=(16, 12)):
    """``root/samples/<class>/<i>.png`` with random images; files aged."""
    classes = classes or ("cat", "dog")
    for c_index, label in enumerate(classes):
        for i in range(per_class):
            write_image(root / "samples" / label / f"{i}.png", size=size, seed=c_index * 1000 + i)
    age(root)
    return root


@functools.lru_cache(maxsize=1)
def _digits():
    from sklearn.datasets import load_digits
    return load_digits()


def digits_project(root, count=60):
    """``root/samples/<digit>/<i>.png`` from scikit-learn's digits; files aged."""
    digits = _digits()
    for i in range(count):
        pixels = (digits.images[i] * 16).clip(0, 255).astype(np.uint8)
        write_image(root / "samples" / str(digits.target[i]) / f"{i}.png",
                    np.stack([pixels] * 3, axis=-1))
    age(root)
    return root


class Counter:
    """Counts calls of a patched function."""

    def __init__(self, func):
        self.func, self.calls = func, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.func(*args, **kwargs)


@pytest.fixture
def decodes(monkeypatch):
    """Counts every image decode (processing and checking)."""
    from vergeml.data import images
    counter = Counter(images.decode_image)
    monkeypatch.setattr(images, "decode_image", counter)
    return counter


@pytest.fixture
def reads(monkeypatch):
    """Counts sample files read by the file index."""
    from vergeml.data import fingerprint
    counter = Counter(fingerprint._examine)
    monkeypatch.setattr(fingerprint, "_examine", counter)
    return counter


# -- arrays, and cache builds the way ml train does them ---------------------------


def arr(i, dtype=np.float32, shape=(4,)):
    return np.full(shape, i, dtype=dtype)


STAGE = "features:test"
RESIZE = {"op": "resize", "width": 12, "height": 12}
CROP = {"op": "crop", "width": 10, "height": 10}
FLIP = {"op": "flip-horizontal", "chance": 0.5}
BASE = [RESIZE, CROP, FLIP]


def every(ds):
    return [s for split in SPLITS for s in ds.samples(split)]


def build(env):
    """Mimic ``ml train``: look up every sample, compute only the misses."""
    ds = load_dataset(env)
    with ds.open_cache() as cache:
        found = cache.get_many(STAGE, [s.key for s in every(ds)])
        for sample in every(ds):
            if sample.key not in found:
                found[sample.key] = ds.load_array(sample, 8)
                cache.put(STAGE, sample.key, found[sample.key])
        stats = cache.stats(STAGE)
        cache.prune(STAGE)
    return ds, stats, found


def assert_no_stale_hit(ds, found):
    for sample in every(ds):
        assert (found[sample.key] == ds.load_array(sample, 8)).all(), sample.relpath


@pytest.fixture
def project(tmp_path):
    return digits_project(tmp_path / "p", count=40)


# -- data.output feature types -----------------------------------------------------


def features_env(root, output, train=None, **settings):
    """make_env plus a ``train:`` section in the project file."""
    env = make_env(root, data={"output": output}, val_split="4", test_split="4", **settings)
    project = ProjectFile(data={**env.project.data, "train": train or {}})
    return Environment(root, project, settings=env.settings)
