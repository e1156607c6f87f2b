"""Class weights on an imbalanced set of real photos: balanced accuracy with and without.

Issue 25's figure: on a 10:1 subset of ``../shared/data/hymenoptera`` (every
ant of ``train/``, one bee in ten), ``--class-weights=auto`` should raise the
balanced accuracy (the mean of the per-class recalls) over ``none`` (every
image counting the same, as before). The test split is ``val/``: 70 ants and
83 bees, so a lost minority class shows. ``ml train`` runs in this process
through ``vergeml.cli.main.main`` (TensorFlow is imported once), MobileNet
a0.25 with the shared ImageNet weights, the other train options at their
defaults; both settings train on the same seeds and splits (one project per
seed, a shared feature cache).

Run: ``.venv/bin/python bench/bench_class_weights.py [--quick]`` (224 px,
seeds 1-3; ``--quick``: 96 px, seed 1). One row: the mean balanced accuracy
with ``auto`` against ``none``, target > 1x; test accuracy and the minority
class's recall in the note.
"""
import os
import shutil
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rows
from workspace import HYMENOPTERA, hymenoptera_bench, train_hymenoptera

MINORITY, KEEP_EVERY = "bees", 10


def imbalanced_samples(target):
    """``target/<class>/``: every ant of ``train/`` and every KEEP_EVERY-th bee (links)."""
    counts = {}
    for folder in sorted((HYMENOPTERA / "train").iterdir()):
        files = sorted(folder.iterdir())
        if folder.name == MINORITY:
            files = files[::KEEP_EVERY]
        (target / folder.name).mkdir(parents=True)
        for path in files:
            (target / folder.name / path.name).symlink_to(path)
        counts[folder.name] = len(files)
    return counts


def train(base, seed, size, weights):
    """One ``ml train`` in this process; its results (``data.yaml``'s)."""
    import yaml
    root = train_hymenoptera(base, f"{weights}-seed-{seed}", base / "samples", seed, size,
                             f"--class-weights={weights}")
    return yaml.safe_load((root / "trainings" / "run" / "data.yaml").read_text())["results"]


def main():
    size, seeds, base = hymenoptera_bench(__doc__.splitlines()[0], "bench-class-weights-")
    started = time.monotonic()
    try:
        counts = imbalanced_samples(base / "samples")
        results = {w: [train(base, seed, size, w) for seed in seeds] for w in ("none", "auto")}
    finally:
        shutil.rmtree(base, ignore_errors=True)
    mean = {w: {k: statistics.mean(r[k] for r in runs) for k in ("balanced_acc", "test_acc",
                                                                  f"{MINORITY}_recall")}
            for w, runs in results.items()}
    for weights, runs in results.items():
        for seed, r in zip(seeds, runs):
            print(f"  --class-weights={weights} seed {seed}: balanced_acc {r['balanced_acc']:.3f}, "
                  f"test_acc {r['test_acc']:.3f}, {MINORITY} recall {r[f'{MINORITY}_recall']:.3f}")
    shares = ", ".join(f"{n} {label}" for label, n in counts.items())
    rows.emit(f"balanced_acc, class weights auto vs none, hymenoptera 10:1 ({shares} before the "
              f"split), MobileNet a0.25 {size} px, {len(seeds)} seed(s)",
              mean["auto"]["balanced_acc"], mean["none"]["balanced_acc"], "acc", target=1.0,
              note=f"--class-weights=none; test_acc {mean['auto']['test_acc']:.3f} vs "
                   f"{mean['none']['test_acc']:.3f}, {MINORITY} recall "
                   f"{mean['auto'][f'{MINORITY}_recall']:.3f} vs {mean['none'][f'{MINORITY}_recall']:.3f}")
    print(f"{time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
