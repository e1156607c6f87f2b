"""What phase 2 itself reaches on the ants and bees, whichever model the run keeps.

``bench_recipe.py`` reports the model a run keeps: phase 1's best or phase 2's
last epoch, chosen on 37 validation images. This probe separates the two: for
each seed it runs ``ml train --fine-tune-epochs=auto`` in a child process
that measures the test accuracy of the model as phase 2 starts (phase 1's
best top) and as it ends (its last epoch), then reads the accuracy of the
model kept. Recipe fields can be overridden (``--recipe label_smoothing=0``),
so variants of the recipe compare on the same splits.

Run: ``.venv/bin/python bench/probe_fine_tune.py [--seeds=1,2,3] [--recipe k=v ...]
[-- more ml train options]``, e.g. ``--recipe epochs=30`` or ``-- --size=288``.
About 80 s a seed here (2 cores). Needs ``../shared/weights`` and
``../shared/data/hymenoptera``; prints one line per seed and the means.
"""
import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workspace import keras_home

MARK = "PROBE "


def parse_overrides(pairs):
    """``["k=v", ...]`` as recipe field values (numbers as floats, ``a+b`` as tuples)."""
    values = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            values[key] = float(value)
        except ValueError:
            values[key] = tuple(value.split("+")) if "+" in value else value
    return values


def patch_recipe(overrides):
    """Make ``choose_recipe`` return its recipe with ``overrides`` applied."""
    import vergeml.models.imagenet.training.recipe as recipe_module
    choose = recipe_module.choose_recipe

    def chosen(*args, **kwargs):
        recipe = choose(*args, **kwargs)
        typed = {k: type(getattr(recipe, k))(v) if not isinstance(getattr(recipe, k), tuple) else
                 (v if isinstance(v, tuple) else (v,)) for k, v in overrides.items()}
        return dataclasses.replace(recipe, **typed)
    recipe_module.choose_recipe = chosen


def patch_fine_tune():
    """Report the test accuracy as phase 2 starts and ends (``MARK`` lines)."""
    import numpy as np

    import vergeml.models.imagenet.training.callbacks as callbacks
    import vergeml.models.imagenet.training.fine_tune as fine_tune_module
    from vergeml.models.imagenet.training.image_arrays import split_images
    fine_tune = fine_tune_module.fine_tune

    def probed(top, extractor, dataset, args, instance, state, seed):
        images, labels = split_images(dataset, "test", extractor.size, args["resize"])
        images = extractor.preprocess(np.asarray(images).astype("float32"))
        base = callbacks.EpochCheckpoint

        def accuracy(model):
            return float((model.predict(images, verbose=0, batch_size=32).argmax(1) == labels).mean())

        class Probe(base):
            def on_train_begin(self, logs=None):
                print(MARK + json.dumps({"phase_1_best": accuracy(self.model)}), flush=True)
                super().on_train_begin(logs)

            def on_train_end(self, logs=None):
                print(MARK + json.dumps({"phase_2_last": accuracy(self.model)}), flush=True)
                super().on_train_end(logs)
        callbacks.EpochCheckpoint = Probe
        try:
            return fine_tune(top, extractor, dataset, args, instance, state, seed)
        finally:
            callbacks.EpochCheckpoint = base
    fine_tune_module.fine_tune = probed


def child(argv, overrides):
    """Run ``ml`` in this process with the probes; its exit status."""
    patch_recipe(overrides)
    patch_fine_tune()
    from vergeml.cli.main import main
    return main(argv)


def one_seed(root, splits, seed, opts, env):
    """One probed run; ``{phase_1_best, phase_2_last, kept}`` test accuracies."""
    import yaml
    from bench_recipe import AUTO, BACKBONE
    name = f"probe-{seed}"
    argv = [f"--random-seed={seed}", *splits, "train", *BACKBONE, AUTO, *opts.ml, f"--name={name}"]
    process = subprocess.run([sys.executable, __file__, "--child", json.dumps(opts.recipe), *argv],
                             cwd=root, env=env, capture_output=True, text=True, check=False)
    if process.returncode:
        sys.exit(f"seed {seed} failed ({process.returncode}):\n{process.stderr[-3000:]}")
    figures = {}
    for line in process.stdout.splitlines():
        if line.startswith(MARK):
            figures.update(json.loads(line[len(MARK):]))
    meta = yaml.safe_load((root / "trainings" / name / "data.yaml").read_text())
    figures["kept"] = meta["results"]["test_acc"]
    return figures


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        return child(sys.argv[3:], parse_overrides(json.loads(sys.argv[2])))
    from bench_recipe import make_hymenoptera
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated seeds [1,2,3]")
    parser.add_argument("--recipe", nargs="*", default=[], metavar="K=V",
                        help="recipe fields to override, e.g. epochs=30 depth_decay=1")
    parser.add_argument("ml", nargs="*", help="more ml train options, after --")
    opts = parser.parse_args()
    parse_overrides(opts.recipe)  # fail here, not in every child
    seeds = [int(s) for s in opts.seeds.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="probe-fine-tune-") as tmp:
        if not keras_home(tmp):
            sys.exit("the shared MobileNet weights are missing (../shared/weights)")
        root = Path(tmp) / "hymenoptera"
        root.mkdir()
        (root / "vergeml.yaml").write_text("model: imagenet\n")
        splits = make_hymenoptera(root, 1)
        env = dict(os.environ, VERGEML_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2")
        for seed in seeds:
            figures = one_seed(root, splits, seed, opts, env)
            results.append(figures)
            print(f"seed {seed}: " + "  ".join(f"{k} {v:.3f}" for k, v in figures.items()), flush=True)
    means = {k: statistics.mean(r[k] for r in results) for k in results[0]}
    base = means["phase_1_best"]
    print(f"mean of {len(seeds)} seeds ({' '.join(opts.recipe) or 'the recipe'} {' '.join(opts.ml)}): "
          + "  ".join(f"{k} {v:.3f} ({(v - base) * 100:+.1f} points)" for k, v in means.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
