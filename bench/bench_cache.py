"""Benchmark of the data cache.

1. Cache-hit re-run vs first build on 2,000 images: ``load_dataset`` plus
   one array per sample (computed and stored on the first build, read from
   the cache on the re-run), as ``ml train`` does with features.
2. Peak RSS (``resource.getrusage`` maxrss) while building the cache for
   2,000 vs 20,000 small images, each in a fresh subprocess: memory should
   stay flat because the cache streams.

Run: ``.venv/bin/python bench/bench_cache.py`` (about a minute; uses a temp dir).
Images get an mtime an hour in the past, like a data set copied earlier
(files modified within the last 2 s are re-read once, by design).
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGE = "features:bench"
SMALL, LARGE = 2_000, 20_000


def make_images(root, count):
    """``root/samples/<digit>/<i>.png``: 24x24 digits with noise, all distinct."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits
    digits = load_digits()
    rng = np.random.default_rng(0)
    old = time.time() - 3600
    for i in range(count):
        label = digits.target[i % len(digits.target)]
        base = np.kron(digits.images[i % len(digits.images)] * 15, np.ones((3, 3)))
        pixels = np.clip(base + rng.integers(0, 16, base.shape), 0, 255).astype(np.uint8)
        folder = root / "samples" / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{i}.png"
        Image.fromarray(np.stack([pixels] * 3, -1)).save(path)
        os.utime(path, (old, old))


def build(root):
    """One ``ml train``-like pass; prints timings, counts and peak RSS as JSON."""
    import numpy as np
    from vergeml.config import GLOBAL_OPTIONS, ProjectFile
    from vergeml.data import load_dataset
    from vergeml.env import Environment
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    env = Environment(root, ProjectFile(data={"data": {"preprocess": [
        {"op": "resize", "width": 32, "height": 32}]}}), settings=GLOBAL_OPTIONS.resolve({}, {}))
    ds = load_dataset(env, progress=False)
    samples = [s for split in ("train", "val", "test") for s in ds.samples(split)]
    with ds.open_cache() as cache:
        for begin in range(0, len(samples), 256):   # batches, as a data loader would
            batch = samples[begin:begin + 256]
            found = cache.get_many(STAGE, [s.key for s in batch])
            for sample in batch:
                if sample.key not in found:
                    cache.put(STAGE, sample.key, ds.load_array(sample, 32).astype(np.float32) / 255)
        summary = cache.summary(STAGE)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "summary": summary, "peak_mb": peak_kb / 1024,
                      "growth_mb": (peak_kb - base_kb) / 1024}))


def run_build(root):
    # Subprocesses of this lean parent: Linux keeps maxrss across exec, so a
    # parent that had imported scikit-learn would inflate every child's figure.
    out = subprocess.run([sys.executable, __file__, "--build", str(root)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_make(root, count):
    subprocess.run([sys.executable, __file__, "--make", str(root), str(count)], check=True)


def main():
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
        small, large = Path(tmp, "small"), Path(tmp, "large")
        run_make(small, SMALL)
        first = run_build(small)
        again = run_build(small)
        print(f"{SMALL:,} images, first build: {first['seconds']:.2f} s ({first['summary']})")
        print(f"{SMALL:,} images, re-run:      {again['seconds']:.2f} s ({again['summary']})")
        print(f"re-run / first build time ratio: {again['seconds'] / first['seconds']:.3f} "
              f"({first['seconds'] / again['seconds']:.1f}x faster)")
        run_make(large, LARGE)
        big = run_build(large)
        print(f"{LARGE:,} images, first build: {big['seconds']:.2f} s ({big['summary']})")
        print(f"peak RSS building {SMALL:,}: {first['peak_mb']:.1f} MB, {LARGE:,}: {big['peak_mb']:.1f} MB, "
              f"ratio {big['peak_mb'] / first['peak_mb']:.2f} for {LARGE // SMALL}x the images")
        print(f"  of which above the imports: {first['growth_mb']:.1f} MB vs {big['growth_mb']:.1f} MB "
              f"(the sample list itself is O(n): about 1 KB per image)")
        size = sum(f.stat().st_size for f in (large / ".cache").iterdir())
        print(f"cache size for {LARGE:,} images: {size / 2**20:.1f} MB")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--build":
        build(Path(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "--make":
        make_images(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
