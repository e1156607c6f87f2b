"""Fixtures for end-to-end tests: real projects, real images, real `ml` runs.

``digits_project`` and ``trained_digits`` are session-scoped because training
is the slow part; tests must not modify what they return (copy it instead).
"""
import pytest
import yaml

from tests.conftest import WEIGHTS_DIR, run_ml_process

# MobileNet v1 alpha 0.25 with the real ImageNet weights, small input: the
# fastest real backbone (a linear probe on its digits features scores ~0.92).
TRAIN_ARGS = ("--architecture=mobilenet", "--alpha=0.25", "--size=96", "--epochs=12",
              "--optimizer=adam", "--learning-rate=0.002", "--batch-size=32")


@pytest.fixture(scope="session")
def session_keras_home(_keras_home_dir):
    """A KERAS_HOME seeded with the offline MobileNet weights (session-wide)."""
    return _keras_home_dir


@pytest.fixture(scope="session")
def ml_env(session_keras_home):
    """Environment additions for every e2e `ml` subprocess."""
    return {"KERAS_HOME": str(session_keras_home), "TF_NUM_INTEROP_THREADS": "2"}


@pytest.fixture(scope="session")
def digits_project(tmp_path_factory, ml_env):
    """A project made with `ml new` holding the 1,797 digits from `ml download:digits`."""
    root = tmp_path_factory.mktemp("digits")
    result = run_ml_process("new", "digits", cwd=root, env=ml_env)
    assert result.returncode == 0, result.output
    project = root / "digits"
    result = run_ml_process("download:digits", cwd=project, env=ml_env, timeout=300)
    assert result.returncode == 0, result.output
    return project


def digits_subset(project, per_class):
    """``project/samples/<digit>/NNN.png``: the first ``per_class`` real digits of each
    class (scikit-learn's 8x8 digits as PNG) and a ``vergeml.yaml``; returns ``project``."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits
    digits = load_digits()
    counts = {}
    for image, target in zip(digits.images, digits.target):
        if counts.get(target, 0) == per_class:
            continue
        counts[target] = counts.get(target, 0) + 1
        folder = project / "samples" / str(target)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * (255 / 16)).astype(np.uint8), "L").save(
            folder / f"{counts[target]:03d}.png")
    (project / "vergeml.yaml").write_text("model: imagenet\n")
    return project


PHOTOS = WEIGHTS_DIR.parent / "data" / "hymenoptera"  # the real ants and bees, in ../shared


def train_on_photos(tmp_path_factory, ml_env, folder, *args, timeout=300):
    """A new project over the ants and bees (``train/`` as samples) and ``ml *args`` run in it.

    Returns:
        ``(project, result)``.
    """
    if not PHOTOS.is_dir():
        pytest.fail(f"the real photos are missing: {PHOTOS}")
    project = tmp_path_factory.mktemp(folder) / "ants"
    project.mkdir()
    (project / "vergeml.yaml").write_text("model: imagenet\n")
    (project / "samples").symlink_to(PHOTOS / "train", target_is_directory=True)
    return project, run_ml_process(*args, cwd=project, env=ml_env, timeout=timeout)


def read_metadata(project, name):
    """The data.yaml of an instance."""
    return yaml.safe_load((project / "trainings" / name / "data.yaml").read_text())


def instance_names(project):
    """Names of the instance folders of a project."""
    folder = project / "trainings"
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def train(project, ml_env, *args, timeout=600):
    """Run `ml train` and return (result, name of the new instance)."""
    before = set(instance_names(project))
    result = run_ml_process("train", *args, cwd=project, env=ml_env, timeout=timeout)
    new = sorted(set(instance_names(project)) - before)
    return result, (new[0] if new else None)


@pytest.fixture(scope="session")
def trained_digits(digits_project, ml_env):
    """The digits project after one real `ml train`: (project, instance name, result)."""
    result, name = train(digits_project, ml_env, *TRAIN_ARGS)
    assert result.returncode == 0, result.output[-3000:]
    return digits_project, name, result


TUNED_NAME = "tuned-tron"


@pytest.fixture(scope="session")
def tuned_photos(tmp_path_factory, ml_env):
    """The ants and bees (``train/``, 15% for validation; tested on the 153 of ``val/``) trained
    with ``--fine-tune-epochs=auto`` at seed 1, shared by the recipe and trust tests (a
    fine-tuned backbone: its unknown score and heatmaps use its own features): ``(project, result)``."""
    return train_on_photos(tmp_path_factory, ml_env, "recipe", "--random-seed=1", "--val-split=15%",
                           f"--test-split={PHOTOS / 'val'}", "train", "--architecture=mobilenet",
                           "--alpha=0.25", "--size=224", "--fine-tune-epochs=auto",
                           f"--name={TUNED_NAME}", timeout=500)


@pytest.fixture
def faces_project(tmp_path):
    """A project of 40 real 25x25 photos, faces and not (scikit-image's LFW subset)."""
    from tests.ray_helpers import face_photos
    from tests.unit.test_data_helpers import age
    project = tmp_path / "faces"
    face_photos(project / "samples", 40)
    age(project)
    (project / "vergeml.yaml").write_text("model: imagenet\n")
    return project
