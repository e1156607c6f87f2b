"""Test-time augmentation on real photos: test accuracy and predict time with ``--tta`` and without.

On ``../shared/data/hymenoptera`` (the 245 photos of ``train/`` as samples,
15% of them for validation; the 153 of ``val/`` as the test split, a
directory split), MobileNet a0.25 with the shared ImageNet weights, one
project per seed, one feature cache. Each seed trains once, with ``--tta``,
in this process (``vergeml.cli.main.main``: TensorFlow is imported once).
Both accuracies then come from that one instance, through the predictor
``ml @x predict`` uses, on the test photos: with the instance's default
(``--tta``: the mean over the 4 views) and with ``tta=False`` (one view). So
the two differ only by the views, not by a second training's luck; the
``--tta`` one is also checked against the ``test_acc`` the run stored (the
training's own evaluation). Predict time per image is the same predictor over
the same files (decode, ``data.preprocess``, model), after a warm-up, the two
settings alternating.

Run: ``.venv/bin/python bench/bench_tta.py [--quick]`` (224 px, seeds 1-3;
``--quick``: 96 px, seed 1). Two rows: test_acc with ``--tta`` against
without (target >= 1x: the views must not cost accuracy), and predict ms per
image with against without (target <= 4x: four views in one model call per
batch, decoding once, should cost at most four times one view).
"""
import os
import shutil
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rows
from workspace import HYMENOPTERA, hymenoptera_bench, train_hymenoptera

EPOCHS = 20  # the top's best epoch is 8-17 on these photos (early stopping would wait 20 more)
PASSES = 2   # timed passes of each setting per seed, alternating


def train(base, seed, size):
    """One ``ml train --tta`` in this process; its instance."""
    from vergeml.instances import load_instance
    root = train_hymenoptera(base, f"seed-{seed}", HYMENOPTERA / "train", seed, size,
                             f"--epochs={EPOCHS}", "--tta")
    return load_instance(root / "trainings", "run")


def test_photos():
    """``(path, label)`` of every photo of the test split."""
    return [(str(p), folder.name) for folder in sorted((HYMENOPTERA / "val").iterdir())
            for p in sorted(folder.iterdir())]


def accuracy(predictor, photos, tta):
    """Share of ``photos`` whose most likely label is theirs."""
    results = predictor.predict_files([p for p, _ in photos], top_k=1, tta=tta)
    return statistics.mean(r["prediction"][0]["label"] == label for r, (_, label) in zip(results, photos))


def ms_per_image(predictor, paths):
    """Predict time per image of each setting (ms), the best of :data:`PASSES` alternating passes."""
    best = {True: float("inf"), False: float("inf")}
    for _ in range(PASSES):
        for tta in (True, False):
            started = time.perf_counter()
            predictor.predict_files(paths, top_k=1, tta=tta)
            best[tta] = min(best[tta], (time.perf_counter() - started) * 1000 / len(paths))
    return best


def measure(instance, photos):
    """test_acc both ways and ms per image both ways of one trained instance."""
    from vergeml.models.imagenet.predictor import Predictor
    predictor = Predictor(instance)
    if not predictor.tta:
        sys.exit("the instance does not remember --tta")
    predictor.predict_files([photos[0][0]], tta=True)  # warm-up: tracing, first batch shapes
    predictor.predict_files([photos[0][0]], tta=False)
    with_tta, without = accuracy(predictor, photos, None), accuracy(predictor, photos, False)
    stored = instance.results["test_acc"]
    if abs(with_tta - stored) > 1.5 / len(photos):  # one photo at a tie may flip
        sys.exit(f"predict with --tta gives test_acc {with_tta:.3f}, the run stored {stored:.3f}")
    return {"tta": with_tta, "plain": without, "ms": ms_per_image(predictor, [p for p, _ in photos])}


def main():
    size, seeds, base = hymenoptera_bench(__doc__.splitlines()[0], "bench-tta-")
    started, photos = time.monotonic(), test_photos()
    try:
        runs = [measure(train(base, seed, size), photos) for seed in seeds]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    report(runs, seeds, size, len(photos))
    print(f"{time.monotonic() - started:.0f} s")


def report(runs, seeds, size, count):
    """Per-seed lines, then the two rows (means over the seeds)."""
    for seed, run in zip(seeds, runs):
        print(f"  seed {seed}: test_acc {run['tta']:.3f} with --tta, {run['plain']:.3f} without; "
              f"{run['ms'][True]:.1f} vs {run['ms'][False]:.1f} ms per image")
    mean = {key: statistics.mean(r[key] for r in runs) for key in ("tta", "plain")}
    ms = {tta: statistics.mean(r["ms"][tta] for r in runs) for tta in (True, False)}
    what = f"hymenoptera ({count} test photos), MobileNet a0.25 {size} px, {len(seeds)} seed(s)"
    rows.emit(f"test_acc with --tta vs without, {what}", mean["tta"], mean["plain"], "acc",
              target=1.0, note="one view, same instance")
    rows.emit(f"predict time per image with --tta vs without, {what}", ms[True], ms[False], "ms",
              target=4.0, higher_is_better=False, note="one view, same predictor")


if __name__ == "__main__":
    main()
