"""``--engine=ray`` on a loopback cluster of two nodes: the same features as the local
engine, in the same cache, surviving a killed actor; an unreachable cluster fails fast.

One cluster for the module (starting it is the slow part); MobileNet alpha 0.25 with the
shared ImageNet weights at 96 px on real photos (scikit-image's LFW faces).
"""
import os
import signal
import time

import numpy as np
import pytest

from tests.ray_helpers import face_photos, free_address, loopback_cluster
from tests.unit.test_data_helpers import age, make_env
from vergeml.data import Cache, load_dataset
from vergeml.errors import VergeMLError
from vergeml.models.imagenet.extraction import ray_engine
from vergeml.models.imagenet.extraction.feature_cache import feature_stage, sample_features
from vergeml.models.imagenet.extraction.features import FeatureExtractor

SIZE = 96
TOLERANCE = 1e-5

pytestmark = [
    pytest.mark.filterwarnings("ignore::vergeml.models.imagenet.backbones.SizeWarning"),
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
    # Ray Data's own DataContext, on creation; nothing of ours.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context"),
]


@pytest.fixture(scope="module")
def address():
    """HOST:PORT of the module's two-node cluster."""
    with loopback_cluster() as address:
        yield address


@pytest.fixture(scope="module")
def faces(tmp_path_factory, _keras_home_dir):
    """``(dataset, extractor, samples, reference)``: 40 photos and their local-engine features."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_HOME", str(_keras_home_dir))
        root = tmp_path_factory.mktemp("faces")
        face_photos(root / "samples", 40)
        age(root)
        dataset = load_dataset(make_env(root, val_split="4", test_split="4"), progress=False)
        samples = [s for split in ("train", "val", "test") for s in dataset.samples(split)]
        extractor = FeatureExtractor("mobilenet", alpha=0.25, size=SIZE, seed=42)
        reference = extractor.extract(np.stack([dataset.load_array(s, SIZE) for s in samples]))
        extractor.key
        yield dataset, extractor, samples, reference


def ray_settings(address):
    return {"engine": "ray", "ray-address": address}


def recording(monkeypatch, batch_size=None, on_batch=None):
    """Wrap ``ray_engine.iter_batches``: keep every batch (and optionally act on it)."""
    real, seen = ray_engine.iter_batches, []

    def wrapper(dataset, extractor, samples, resize, address, size, stall_timeout):
        for batch in real(dataset, extractor, samples, resize, address, batch_size or size, 120):
            seen.append(batch)
            if on_batch is not None:
                on_batch(batch, seen)
            yield batch
    monkeypatch.setattr(ray_engine, "iter_batches", wrapper)
    return seen


def refuse_extraction(monkeypatch):
    """Fail the test if either engine is asked to extract anything."""
    def refuse(*args, **kwargs):
        raise AssertionError("extracted although everything was cached")
    monkeypatch.setattr(ray_engine, "iter_batches", refuse)
    monkeypatch.setattr(FeatureExtractor, "iter_features", refuse)


def cached(cache_dir, extractor, samples):
    with Cache("disk", cache_dir) as cache:
        return cache.get_many(feature_stage(extractor, "fill"), [s.key for s in samples])


def test_ray_features_equal_local_on_both_nodes_and_fill_the_shared_cache(
        address, faces, tmp_path, monkeypatch, capsys):
    dataset, extractor, samples, reference = faces
    batches = recording(monkeypatch, batch_size=8)
    started = time.monotonic()
    with Cache("disk", tmp_path / "cache") as cache:
        vectors = sample_features(dataset, extractor, samples, "fill", cache,
                                  settings=ray_settings(address), progress=False)
    took = time.monotonic() - started
    features = np.stack([vectors[s.key] for s in samples])
    assert features.shape == reference.shape == (40, 256)
    np.testing.assert_allclose(features, reference, rtol=0, atol=TOLERANCE)
    assert len({str(node) for b in batches for node in b.nodes}) == 2   # both nodes worked
    assert "Ray: 40 images on 2 node(s)" in capsys.readouterr().out
    print(f"ray engine: 40 images in {took:.1f} s (load {os.getloadavg()[0]:.1f})")

    # A second run, with either engine, extracts nothing: the keys are the local engine's.
    refuse_extraction(monkeypatch)
    for settings in (ray_settings(address), {"engine": "local"}):
        with Cache("disk", tmp_path / "cache") as cache:
            again = sample_features(dataset, extractor, samples, "fill", cache, settings=settings)
            assert cache.stats(feature_stage(extractor, "fill"))["hit"] == 40
        np.testing.assert_array_equal(np.stack([again[s.key] for s in samples]), features)


def test_a_killed_actor_is_restarted_and_its_batches_retried(address, faces, tmp_path, monkeypatch):
    dataset, extractor, samples, reference = faces
    killed = []

    def kill_first(batch, seen):
        if not killed:  # the actor that just finished a batch holds the next ones
            killed.append(int(batch.pids[0]))
            os.kill(killed[0], signal.SIGKILL)
    batches = recording(monkeypatch, batch_size=4, on_batch=kill_first)
    with Cache("disk", tmp_path / "cache") as cache:
        vectors = sample_features(dataset, extractor, samples, "fill", cache,
                                  settings=ray_settings(address), progress=False)
    indices = np.concatenate([b.indices for b in batches])
    assert sorted(indices.tolist()) == list(range(40))   # every batch exactly once
    np.testing.assert_allclose(np.stack([vectors[s.key] for s in samples]), reference,
                               rtol=0, atol=TOLERANCE)
    stored = cached(tmp_path / "cache", extractor, samples)   # whole batches only, all correct
    np.testing.assert_allclose(np.stack([stored[s.key] for s in samples]), reference,
                               rtol=0, atol=TOLERANCE)
    # Batches the killed actor had finished still arrive; those it held come from its
    # restarted process (a third pid: two actors, one restarted).
    pids = {int(p) for b in batches for p in b.pids}
    assert killed[0] in pids and len(pids) == 3, (killed, pids)


def test_local_features_serve_a_later_ray_run(faces, tmp_path, monkeypatch):
    dataset, extractor, samples, reference = faces
    with Cache("disk", tmp_path / "cache") as cache:
        sample_features(dataset, extractor, samples, "fill", cache, settings={"engine": "local"},
                        progress=False)
    refuse_extraction(monkeypatch)
    with Cache("disk", tmp_path / "cache") as cache:
        vectors = sample_features(dataset, extractor, samples, "fill", cache,
                                  settings=ray_settings(free_address()))   # never connects
    np.testing.assert_allclose(np.stack([vectors[s.key] for s in samples]), reference,
                               rtol=0, atol=TOLERANCE)


def test_an_unreachable_cluster_fails_in_seconds_naming_the_address(faces, tmp_path):
    dataset, extractor, samples, _ = faces
    nowhere = free_address()
    started = time.monotonic()
    with Cache("disk", tmp_path / "cache") as cache, pytest.raises(VergeMLError) as error:
        sample_features(dataset, extractor, samples, "fill", cache, settings=ray_settings(nowhere),
                        progress=False)
    assert time.monotonic() - started < 15
    assert nowhere in error.value.message and "\n" not in error.value.message
