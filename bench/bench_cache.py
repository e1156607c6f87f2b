"""Benchmark of the data cache.

1. Cache-hit re-run vs first build on 2,000 images: ``load_dataset`` plus
   one array per sample (computed and stored on the first build, read from
   the cache on the re-run), as ``ml train`` does with features.
2. Peak RSS (``resource.getrusage`` maxrss) while building the cache for
   2,000 vs 20,000 small images, each in a fresh subprocess: memory should
   stay flat because the cache streams.

Run: ``.venv/bin/python bench/bench_cache.py [--quick]`` (about a minute; uses
a temp dir; ``--quick``: 200 and 2,000 images).
Images get an mtime an hour in the past, like a data set copied earlier
(files modified within the last 2 s are re-read once, by design).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rows

STAGE = "features:bench"
SIZES = {False: (2_000, 20_000), True: (200, 2_000)}  # (small, large) images by --quick


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
    from vergeml.settings.project_settings import GLOBAL_OPTIONS, ProjectFile
    from vergeml.data import load_dataset
    from vergeml.settings.environment import Environment
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


def emit_rows(first, again, big, sizes):
    """The ``make bench`` rows: re-run vs first build, and peak RSS of large vs small."""
    n_small, n_large = sizes
    rows.emit(f"cache-hit re-run vs first build, {n_small:,} images", again["seconds"],
              first["seconds"], "s", higher_is_better=False, note="first build")
    rows.emit(f"peak RSS building the cache, {n_large:,} vs {n_small:,} images", big["peak_mb"],
              first["peak_mb"], "MB", higher_is_better=False, note=f"{n_small:,} images")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (bench-quick)")
    n_small, n_large = SIZES[parser.parse_args().quick]
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
        small, large = Path(tmp, "small"), Path(tmp, "large")
        run_make(small, n_small)
        first = run_build(small)
        again = run_build(small)
        print(f"{n_small:,} images, first build: {first['seconds']:.2f} s ({first['summary']})")
        print(f"{n_small:,} images, re-run:      {again['seconds']:.2f} s ({again['summary']})")
        print(f"re-run / first build time ratio: {again['seconds'] / first['seconds']:.3f} "
              f"({first['seconds'] / again['seconds']:.1f}x faster)")
        run_make(large, n_large)
        big = run_build(large)
        print(f"{n_large:,} images, first build: {big['seconds']:.2f} s ({big['summary']})")
        print(f"peak RSS building {n_small:,}: {first['peak_mb']:.1f} MB, "
              f"{n_large:,}: {big['peak_mb']:.1f} MB, ratio {big['peak_mb'] / first['peak_mb']:.2f} "
              f"for {n_large // n_small}x the images")
        print(f"  of which above the imports: {first['growth_mb']:.1f} MB vs {big['growth_mb']:.1f} MB "
              f"(the sample list itself is O(n): about 1 KB per image)")
        size = sum(f.stat().st_size for f in (large / ".cache").iterdir())
        print(f"cache size for {n_large:,} images: {size / 2**20:.1f} MB")
    emit_rows(first, again, big, (n_small, n_large))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--build":
        build(Path(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "--make":
        make_images(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
