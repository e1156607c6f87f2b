"""Accuracy of the pixel path: JPEG draft + bilinear fit against full decode + Lanczos.

``ml`` fits every image to the model's input by decoding a JPEG at a reduced DCT
scale when it is at least twice the input size, then resizing it with Pillow's
bilinear filter (``vergeml.data.images.FIT_METHOD``); until issue 29 it decoded
the whole image and resized it with Lanczos (the original's ``antialias``), at
1.8x the CPU time. This trains the same runs both ways on the ants and bees
(``../shared/data/hymenoptera``; ``val/`` is the test split) and compares the
stored test accuracy, a mean over the seeds. The old path is set in this process
(its own ``PIXEL_PATH``, so the two never share a cached feature).

Ten seeds, not three: one seed's test accuracy moved by 0.05 when the features of
two tiny photos changed (the best epoch is picked on 37 validation images), so
three seeds cannot tell the two paths apart.

Run: ``.venv/bin/python bench/bench_pixel_path.py [--quick]`` (224 px, seeds 1-10,
about 2 minutes; ``--quick``: 96 px, seed 1).
"""
import contextlib
import os
import shutil
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import rows
from workspace import HYMENOPTERA, hymenoptera_bench, train_hymenoptera

EPOCHS = 20  # the top's best epoch is 8-17 on these photos
SEEDS = 10


@contextlib.contextmanager
def old_pixel_path():
    """Full decode (no JPEG draft) and Lanczos, cached under their own key, while inside."""
    from vergeml.data import images
    saved = images.FIT_METHOD, images.DRAFT_FACTOR, images.PIXEL_PATH
    images.FIT_METHOD, images.DRAFT_FACTOR, images.PIXEL_PATH = "antialias", 10_000, "full,lanczos"
    try:
        yield
    finally:
        images.FIT_METHOD, images.DRAFT_FACTOR, images.PIXEL_PATH = saved


def test_acc(base, name, seed, size):
    """One ``ml train`` in this process; the test accuracy its run stored."""
    from vergeml.instances import load_instance
    root = train_hymenoptera(base, name, HYMENOPTERA / "train", seed, size, f"--epochs={EPOCHS}")
    return load_instance(root / "trainings", "run").results["test_acc"]


def main():
    size, seeds, base = hymenoptera_bench(__doc__.splitlines()[0], "bench-pixel-path-")
    seeds = seeds if len(seeds) == 1 else range(1, SEEDS + 1)
    started, new, old = time.monotonic(), [], []
    try:
        for seed in seeds:
            new.append(test_acc(base, f"new-{seed}", seed, size))
            with old_pixel_path():
                old.append(test_acc(base, f"old-{seed}", seed, size))
            print(f"  seed {seed}: test_acc {new[-1]:.4f} draft + bilinear, "
                  f"{old[-1]:.4f} full decode + Lanczos")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    rows.emit(f"test_acc, JPEG draft + bilinear fit vs full decode + Lanczos, hymenoptera, "
              f"MobileNet a0.25 {size} px, {EPOCHS} epochs, mean of {len(seeds)} seed(s)",
              statistics.mean(new), statistics.mean(old), "acc", target=0.99,
              note="full decode + Lanczos (the pixel path before)")
    print(f"{time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
