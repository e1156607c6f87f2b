"""A small real project and one real training run for the export tests (no tests here).

The images are scikit-learn's bundled 8x8 digits (three classes), upscaled to
32 px PNGs; training is MobileNet alpha 0.25 at 96 px with the shared
ImageNet weights, one epoch (``ml train`` in a subprocess: about 15 s).
"""
from pathlib import Path

import yaml

from tests.conftest import run_ml_process

TRAIN_ARGS = ("--architecture=mobilenet", "--alpha=0.25", "--size=96", "--epochs=1",
              "--optimizer=adam", "--learning-rate=0.002", "--batch-size=32")
CLASSES = (0, 1, 7)
PER_CLASS = 30


def write_digit_samples(samples, classes=CLASSES, per_class=PER_CLASS):
    """Write ``per_class`` PNGs of each digit class to ``samples/<digit>/``."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits
    digits = load_digits()
    for digit in classes:
        folder = Path(samples) / str(digit)
        folder.mkdir(parents=True, exist_ok=True)
        picks = np.flatnonzero(digits.target == digit)[:per_class]
        for i, index in enumerate(picks):
            pixels = (digits.images[index] * (255.0 / 16.0)).astype(np.uint8)
            Image.fromarray(pixels).resize((32, 32), Image.NEAREST).convert("RGB").save(
                folder / f"{i:03d}.png")


def trained_project(root, env, train_args=TRAIN_ARGS):
    """A project with digit samples after one real ``ml train *train_args``: (project, instance name)."""
    project = Path(root) / "proj"
    project.mkdir(parents=True)
    (project / "vergeml.yaml").write_text("model: imagenet\ntest-split: 20%\nval-split: 10%\n")
    write_digit_samples(project / "samples")
    result = run_ml_process("train", *train_args, cwd=project, env=env, timeout=300)
    assert result.returncode == 0, result.output[-3000:]
    names = [p.name for p in (project / "trainings").iterdir() if p.is_dir()]
    assert len(names) == 1, names
    return project, names[0]


def read_meta(project, name, fmt):
    """The metadata.json of an export, as a dict."""
    import json
    return json.loads((Path(project) / "trainings" / name / "export" / fmt / "metadata.json")
                      .read_text())


def instance_data(project, name):
    """The data.yaml of an instance."""
    return yaml.safe_load((Path(project) / "trainings" / name / "data.yaml").read_text())
