"""Frozen top vs fine-tuned, on a real photo set, same split, 224 px, shared MobileNet weights.

The photos are scikit-image's ``lfw_subset``: 100 faces and 100 non-faces
from Labeled Faces in the Wild, 25x25 grayscale, fitted to 224 px by ``ml``.
Both runs train in one project, so they share the feature cache and the
remembered split; the fine-tuned run trains the same top first (phase 1),
then ``--fine-tune-epochs`` more on augmented images.

Run: ``.venv/bin/python bench/bench_fine_tune.py [--quick]`` (about a minute;
``--quick``: every second photo, 2 top epochs and 1 fine-tune epoch instead
of 10 and 5, and no warm-up run filling the cache first, so the frozen run's
time includes extracting the 100 small images, under a second of it). Needs
``../shared/weights/mobilenet_2_5_224_tf_no_top.h5`` (or VERGEML_TEST_WEIGHTS).
Prints test_acc of both, and the fine-tuned run's time against the frozen one's.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rows
from workspace import keras_home

COMMON = ["--architecture=mobilenet", "--alpha=0.25", "--size=224", "--optimizer=adam",
          "--learning-rate=0.001", "--batch-size=32"]
SPLITS = ["--val-split=20%", "--test-split=30%"]
EPOCHS = {False: (10, 5), True: (2, 1)}  # (top, fine-tune) epochs by --quick
STEP = {False: 1, True: 2}  # every image of the LFW subset, or every second one


def make_project(root, step=1):
    """``root/samples/{face,other}/*.png`` from scikit-image's LFW subset (every ``step``-th
    image); returns how many."""
    from PIL import Image
    from skimage.data import lfw_subset
    images = lfw_subset()
    for index in range(0, len(images), step):
        image = images[index]
        label = "face" if index < 100 else "other"
        folder = root / "samples" / label
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * 255).astype("uint8")).convert("RGB").save(folder / f"{index:03d}.png")
    (root / "vergeml.yaml").write_text("model: imagenet\n")
    return len(range(0, len(images), step))


def ml(root, env, *args):
    start = time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).with_name("ml")), *args], cwd=root, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"ml {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def results(root, name):
    import yaml
    return yaml.safe_load((root / "trainings" / name / "data.yaml").read_text())["results"]


def emit_rows(frozen, tuned, seconds, epochs, count):
    """The ``make bench`` rows: test accuracy and training time, fine-tuned vs frozen."""
    what = f"LFW {count} photos, {epochs[0]}+{epochs[1]} epochs"
    rows.emit(f"test_acc fine-tuned vs frozen, {what}", tuned["test_acc"], frozen["test_acc"],
              "acc", note="frozen top")
    rows.emit(f"training time fine-tuned vs frozen, {what}", seconds[1], seconds[0], "s",
              higher_is_better=False, note="frozen top")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs (bench-quick)")
    quick = parser.parse_args().quick
    epochs, tune_epochs = EPOCHS[quick]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "lfw"
        if not keras_home(tmp):
            sys.exit("the shared MobileNet weights are missing (../shared/weights)")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        count = make_project(root, STEP[quick])
        if not quick:
            ml(root, env, "train", *COMMON, *SPLITS, "--epochs=1", "--name=warm-up")  # fills the cache
        frozen_s = ml(root, env, "train", *COMMON, *SPLITS, f"--epochs={epochs}", "--name=frozen")
        tuned_s = ml(root, env, "train", *COMMON, *SPLITS, f"--epochs={epochs}",
                     f"--fine-tune-epochs={tune_epochs}",
                     "--fine-tune-layers=all", "--fine-tune-learning-rate=0.0001", "--name=tuned")
        frozen, tuned = results(root, "frozen"), results(root, "tuned")
    load = os.getloadavg()[0]
    print(f"lfw_subset ({count} real photos), MobileNet a0.25 ImageNet weights, 224 px, "
          f"{frozen.get('num_samples')} train; load average {load:.2f}")
    print(f"{'figure':<34}{'this project':>14}{'baseline':>12}{'ratio':>8}")
    print(f"{'test_acc fine-tuned vs frozen':<34}{tuned['test_acc']:>14.3f}{frozen['test_acc']:>12.3f}"
          f"{tuned['test_acc'] / frozen['test_acc']:>8.3f}")
    print(f"{'test_loss fine-tuned vs frozen':<34}{tuned['test_loss']:>14.3f}{frozen['test_loss']:>12.3f}"
          f"{tuned['test_loss'] / frozen['test_loss']:>8.3f}")
    print(f"{'time fine-tuned vs frozen (s)':<34}{tuned_s:>14.1f}{frozen_s:>12.1f}{tuned_s / frozen_s:>8.2f}")
    print(json.dumps({"frozen": {k: frozen.get(k) for k in ("test_acc", "test_loss", "best_epoch")},
                      "fine_tuned": {k: tuned.get(k) for k in ("test_acc", "test_loss", "best_epoch")}}))
    emit_rows(frozen, tuned, (frozen_s, tuned_s), (epochs, tune_epochs), count)


if __name__ == "__main__":
    main()
