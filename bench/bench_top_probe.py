"""The frozen top against a logistic-regression probe on the same cached features and split.

Issue 14's figure: the top that ``ml train`` trains with its default options
should reach what a scikit-learn ``LogisticRegression`` reaches on the very
features ``ml train`` cached, on the very split it used. Three data sets, all
offline: real photos (``bench/photos.py``: crops of scikit-image's colour
photographs filed by source photo; crops of one photo look alike, so this set
is easy), scikit-image's LFW subset (100 faces, 100 non-faces, 25x25 grey) and
scikit-learn's digits (what ``ml download:digits`` writes).

For each data set, size and seed: a fresh project (the samples and the
feature cache are shared by the seeds), then ``ml train`` with the default
train options (only ``--architecture=mobilenet --alpha=0.25 --size=S`` are
given, with the shared ImageNet weights) run in this process through
``vergeml.cli.main.main``, the code path of the ``ml`` command (TensorFlow is
imported once). ``--test-split=30%`` gives the test accuracy a finer grain
than the default 10% would; the validation split keeps its default (10%).
Then the probe: ``LogisticRegression(max_iter=1000)`` with the default C=1 on
the raw features (no scaling: the issue's probe, and the stronger one on the
photo sets), fitted on the train split's cached features read back through
the same cache and the remembered split; the test labels are checked against
the run's ``stats/test_predictions.npz``. The probe on standardised features
is printed too, for the record.

Run: ``.venv/bin/python bench/bench_top_probe.py [--quick]`` (about 4 minutes
here: 224 and 96 px, seeds 1-3, 450 photos, 200 LFW, 600 digits; ``--quick``:
96 px, seed 1, 150 photos, 200 LFW, 200 digits, at most 10 epochs instead of
the default 100, under a minute). Needs
``../shared/weights/mobilenet_2_5_224_tf_no_top.h5`` (or VERGEML_TEST_WEIGHTS).
One row per data set (both sizes, every seed): the mean test accuracy of the
top against the probe's, target >= 1x, with each size's means in its note;
and one row of the mean over all of them.
"""
import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rows
from workspace import keras_home

BACKBONE = ["--architecture=mobilenet", "--alpha=0.25"]
SPLITS = ["--test-split=30%"]
# (data set, samples, sizes, seeds) by --quick.
PLAN = {False: {"photos": 450, "lfw": 200, "digits": 600, "sizes": (224, 96), "seeds": (1, 2, 3),
               "epochs": None},
        True: {"photos": 150, "lfw": 200, "digits": 200, "sizes": (96,), "seeds": (1,),
               "epochs": 10}}


def write_samples(name, folder, count):
    """``folder/<class>/*`` for one data set (``count`` samples; LFW always has 200)."""
    if name == "photos":
        from photos import make_photos
        make_photos(folder, count, seed=0)
    elif name == "lfw":
        from PIL import Image
        from skimage.data import lfw_subset
        for index, image in enumerate(lfw_subset()[:count]):
            target = folder / ("face" if index < 100 else "other")
            target.mkdir(parents=True, exist_ok=True)
            Image.fromarray((image * 255).astype("uint8")).convert("RGB").save(target / f"{index:03d}.png")
    else:
        from vergeml.downloads.digits import load_digits, to_png
        images, labels = load_digits()
        for index, (image, label) in enumerate(zip(images[:count], labels[:count])):
            target = folder / str(label)
            target.mkdir(parents=True, exist_ok=True)
            (target / f"{index:04d}.png").write_bytes(to_png(image))


def project(base, seed):
    """A fresh project on the shared samples: its own remembered split, the shared cache."""
    root = base / f"seed-{seed}"
    root.mkdir()
    (root / "samples").symlink_to(base / "samples", target_is_directory=True)
    (root / "vergeml.yaml").write_text("model: imagenet\n")
    return root


def train_argv(root, base, seed, size, epochs=None):
    """``ml ... train`` with the default train options (backbone, size and ``epochs`` aside)."""
    return ["--project-dir", str(root), f"--cache-dir={base / 'cache'}", f"--random-seed={seed}",
            *SPLITS, "train", *BACKBONE, f"--size={size}", "--name=top",
            *([f"--epochs={epochs}"] if epochs else [])]


def quietly(function, *args):
    """``function(*args)`` with its stdout and stderr kept; returns (result, output)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = function(*args)
    return result, out.getvalue()


def train_top(argv):
    """Run ``ml train`` in this process; returns the run's results (``data.yaml``)."""
    import yaml
    from vergeml.cli import main as cli
    status, output = quietly(cli.main, argv)
    if status:
        sys.exit(f"ml {' '.join(argv)} failed ({status}):\n{output[-3000:]}")
    root = Path(argv[argv.index("--project-dir") + 1])
    meta = yaml.safe_load((root / "trainings" / "top" / "data.yaml").read_text())
    return meta


def cached_split(argv):
    """The cached features and labels of each split of the project, as ``ml train`` used them."""
    from vergeml.cli import main as cli
    from vergeml.data import load_dataset
    from vergeml.models.imagenet.extraction.feature_cache import cached_features
    from vergeml.models.imagenet.extraction.features import FeatureExtractor
    parsed = cli.parse(argv)
    env = parsed["env"]
    args = parsed["option_set"].resolve(parsed["options"], env.project.section("train"),
                                        where="train", lines=env.project.lines)
    dataset = load_dataset(env, progress=False)
    extractor, _ = quietly(FeatureExtractor.from_options, args, env.random_seed, env.cache_dir)
    features, output = quietly(cached_features, dataset, extractor, args, env.settings)
    if " 0 new" not in output:
        sys.exit(f"the probe's features were not all cached: {output.strip()}")
    return features


def probe(features, scaled=False):
    """Test accuracy of ``LogisticRegression(max_iter=1000)`` fitted on the train split."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    (x_train, y_train), (x_test, y_test) = features["train"], features["test"]
    if scaled:
        scaler = StandardScaler().fit(x_train)
        x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    model = LogisticRegression(max_iter=1000).fit(x_train, y_train)
    return float((model.predict(x_test) == y_test).mean())


def one_seed(base, seed, size, epochs=None):
    """Top and probes of one seed: ``(top, probe, probe_scaled, best_epoch, seconds)``."""
    import numpy as np
    root = project(base, seed)
    argv = train_argv(root, base, seed, size, epochs)
    start = time.perf_counter()
    meta = train_top(argv)
    seconds = time.perf_counter() - start
    features = cached_split(argv)
    stored = np.load(root / "trainings" / "top" / "stats" / "test_predictions.npz")
    if not np.array_equal(stored["y_true"], features["test"][1]):
        sys.exit(f"{root}: the probe's test split is not the one ml train tested")
    results = meta["results"]
    return results["test_acc"], probe(features), probe(features, scaled=True), \
        results["best_epoch"], seconds




def bench_set(tmp, name, count, sizes, seeds, epochs=None):
    """Every size and seed of one data set; one row for all of them. Returns the runs.

    One row per data set, not per size: with 3 seeds a size's mean moves by
    about one test image per seed from run to run (sd 0.01-0.02), the size of
    the differences it would judge. The note gives each size's means.
    """
    every, by_size = [], []
    for size in sizes:
        base = tmp / f"{name}-{size}"
        write_samples(name, base / "samples", count)
        runs = []
        for seed in seeds:
            runs.append(one_seed(base, seed, size, epochs))
            top, lin, lin_scaled, best, seconds = runs[-1]
            print(f"  {name} {size} px seed {seed}: top {top:.3f} (best epoch {best}, {seconds:.0f} s), "
                  f"probe {lin:.3f}, probe on standardised features {lin_scaled:.3f}", flush=True)
        by_size.append(f"{size} px {_mean(runs, 0):.3f} vs {_mean(runs, 1):.3f}")
        every += runs
    emit(f"{name} ({count}), MobileNet a0.25 {' and '.join(map(str, sizes))} px, "
         f"{len(seeds)} seed{'s' if len(seeds) > 1 else ''}{f', {epochs} epochs' if epochs else ''}",
         every, "; ".join(by_size))
    return every


def _mean(runs, column):
    return statistics.mean(run[column] for run in runs)


def emit(what, runs, detail=""):
    """The row of ``runs``: mean test accuracy of the top against the probe's."""
    tops, probes = [run[0] for run in runs], [run[1] for run in runs]
    sd = f"; sd top {statistics.pstdev(tops):.3f}, probe {statistics.pstdev(probes):.3f}" \
        if len(runs) > 1 else ""
    rows.emit(f"frozen top test_acc, {what}", statistics.mean(tops), statistics.mean(probes),
              "acc", target=1.0, note=f"logistic-regression probe{sd}; on standardised "
              f"features {_mean(runs, 2):.3f}{f'; {detail}' if detail else ''}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one size, smaller sets (bench-quick)")
    plan = PLAN[parser.parse_args().quick]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if not keras_home(tmp):
            sys.exit("the shared MobileNet weights are missing (../shared/weights)")
        os.environ.update(VERGEML_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2")
        print(f"default train options; seeds {', '.join(map(str, plan['seeds']))}; "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
        runs = []
        for name in ("photos", "lfw", "digits"):
            runs += bench_set(tmp, name, plan[name], plan["sizes"], plan["seeds"], plan["epochs"])
        emit(f"all {len(runs)} runs above", runs)
    print(f"load average {os.getloadavg()[0]:.2f}; {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
