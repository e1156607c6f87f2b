"""Extraction on a loopback Ray cluster (two nodes on this machine) against the local engine.

Both extract the same real JPEG photos (``bench/photos.py``, ~420x350, at
224 px, MobileNet a0.25 with the shared ImageNet weights) through
``feature_cache.sample_features`` into a fresh cache. Two rows: the whole Ray
run (connect, start the actors, extract) and its steady rate after the first
batch arrived, each against the local engine of the same run. On one 2-core
machine Ray cannot be faster; the rows show what the engine costs.

Usage: python bench/bench_ray.py [--quick] [--count N]
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import rows
from bench_extract_photos import project_of
from workspace import keras_home


def extract(folder, extractor, settings, arrivals=None):
    """Seconds and sample count of one extraction of every sample into a fresh cache."""
    from vergeml.settings.project_settings import GLOBAL_OPTIONS, ProjectFile
    from vergeml.data import load_dataset
    from vergeml.settings.environment import Environment
    from vergeml.models.imagenet.extraction import feature_cache
    shutil.rmtree(os.path.join(folder, ".cache"), ignore_errors=True)
    env = Environment(folder, ProjectFile(), settings=GLOBAL_OPTIONS.resolve({}, {}))
    dataset = load_dataset(env, progress=False)
    samples = [s for split in ("train", "val", "test") for s in dataset.samples(split)]
    start = time.perf_counter()
    with dataset.open_cache() as cache:
        got = feature_cache.sample_features(dataset, extractor, samples, "fill", cache,
                                            settings=settings, progress=False)
    assert len(got) == len(samples), (len(got), len(samples))
    return time.perf_counter() - start, len(samples)


def timed_batches(arrivals):
    """Wrap ``ray_engine.iter_batches`` to note when each batch arrives."""
    from vergeml.models.imagenet.extraction import ray_engine
    real = ray_engine.iter_batches

    def timed(*args, **kwargs):
        for batch in real(*args, **kwargs):
            arrivals.append((time.perf_counter(), len(batch.indices)))
            yield batch
    ray_engine.iter_batches = timed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer photos (bench-quick)")
    parser.add_argument("--count", type=int, help="photos (default 1000, quick 64)")
    opts = parser.parse_args()
    count = opts.count or (64 if opts.quick else 1000)
    os.environ.update({"TF_CPP_MIN_LOG_LEVEL": "2", "VERGEML_OFFLINE": "1"})
    root = tempfile.mkdtemp(prefix="bench-ray-")
    try:
        keras_home(root)
        from tests.ray_helpers import loopback_cluster
        from vergeml.runtimes import tensorflow_setup as backend
        backend.load()
        from vergeml.models.imagenet.extraction.features import FeatureExtractor
        extractor = FeatureExtractor("mobilenet", alpha=0.25, size=224, seed=42)
        folder, _ = project_of(root, "photos", count)
        warm, _ = project_of(root, "warm", min(64, count))
        extract(warm, extractor, {"engine": "local"})  # tracing: once per process
        local, n = extract(folder, extractor, {"engine": "local"})
        arrivals = []
        timed_batches(arrivals)
        with loopback_cluster() as address:
            ray, _ = extract(folder, extractor, {"engine": "ray", "ray-address": address})
        first, last = arrivals[0][0], arrivals[-1][0]
        steady = (n - arrivals[0][1]) / (last - first) if last > first else float("nan")
        what = f"extraction, {n} JPEG photos at 224, MobileNet a0.25, Ray loopback 2 nodes"
        rows.emit(f"{what}, whole run", n / ray, n / local, "img/s", note="local engine")
        rows.emit(f"{what}, after the first batch", steady, n / local, "img/s",
                  note="local engine")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
