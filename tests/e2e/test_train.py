"""End-to-end: `ml train` on real images with the real MobileNet ImageNet weights."""
import signal
import subprocess
import time

import numpy as np
import pytest

from tests.conftest import default_signals, ml_command, run_ml_process, subprocess_env
from tests.e2e.conftest import TRAIN_ARGS, instance_names, read_metadata, train

pytestmark = pytest.mark.e2e


def test_digits_reach_good_test_accuracy(trained_digits):
    project, name, result = trained_digits
    meta = read_metadata(project, name)
    assert meta["status"] == "finished"
    assert meta["backbone"] == "mobilenet"
    assert meta["results"]["test_acc"] >= 0.85, meta["results"]
    assert meta["results"]["test_loss"] > 0
    assert meta["results"]["epochs_done"] == 12
    assert 1 <= meta["results"]["best_epoch"] <= 12
    assert meta["data"]["num_train"] + meta["data"]["num_val"] + meta["data"]["num_test"] == 1797
    assert "test_acc" in result.stdout and f"@{name}" in result.stdout


def test_instance_folder_is_complete(trained_digits):
    project, name, _ = trained_digits
    folder = project / "trainings" / name
    for path in ("data.yaml", "checkpoints/model.keras", "checkpoints/top.weights.h5",
                 "checkpoints/labels.txt", "stats/history.csv", "stats/test_predictions.npz"):
        assert (folder / path).is_file(), path
    assert (folder / "checkpoints/labels.txt").read_text().split() == [str(d) for d in range(10)]
    assert list((folder / "tensorboard").rglob("events.out.tfevents.*"))
    assert not list(folder.rglob("*.tmp*")), "temporary files left behind"


def test_best_epoch_is_the_one_saved(trained_digits):
    project, name, _ = trained_digits
    meta = read_metadata(project, name)
    history = meta["history"]
    best = max(history, key=lambda row: (row["val_acc"], -row["val_loss"]))
    assert meta["results"]["best_epoch"] == best["epoch"]
    assert meta["results"]["val_acc"] == pytest.approx(best["val_acc"])


def test_saved_model_predicts_like_the_test(trained_digits):
    """The full model loads with keras and reproduces the stored test predictions."""
    import keras
    from vergeml.data.images import fit_to_size, load_image
    from vergeml.models.imagenet.backbones import get_backbone, load_object
    project, name, _ = trained_digits
    folder = project / "trainings" / name
    stored = np.load(folder / "stats/test_predictions.npz")
    model = keras.saving.load_model(folder / "checkpoints/model.keras")
    preprocess = load_object(get_backbone("mobilenet").preprocess)
    files = list(stored["files"][:16])
    images = np.stack([np.asarray(fit_to_size(load_image(project / "samples" / f), 96, "fill"),
                                  dtype="float32") for f in files])
    probabilities = model.predict(preprocess(images), verbose=0)
    np.testing.assert_allclose(probabilities, stored["y_prob"][:16], atol=2e-3)
    accuracy = (stored["y_prob"].argmax(1) == stored["y_true"]).mean()
    assert accuracy == pytest.approx(read_metadata(project, name)["results"]["test_acc"])


def test_second_identical_run_extracts_nothing(trained_digits, ml_env):
    project, _, first = trained_digits
    assert "0 hit" in first.output and "1,797 new" in first.output.replace("1797", "1,797")
    # The device is named in the first lines (no GPU here: make test installs the CPU build).
    assert "Device: CPU (TensorFlow sees no GPU)" in first.stdout.splitlines()[:3], first.stdout[:500]
    result, name = train(project, ml_env, *TRAIN_ARGS, "--epochs=1")
    assert result.returncode == 0, result.output[-3000:]
    assert "1,797 hit, 0 new" in result.output.replace("1797", "1,797")
    assert "Extracting features" not in result.output


@pytest.mark.slow
def test_command_line_beats_project_file_beats_default(digits_project, ml_env, tmp_path):
    project = tmp_path / "precedence"
    project.mkdir()
    (project / "samples").symlink_to(digits_project / "samples")
    (project / "vergeml.yaml").write_text(
        "model: imagenet\ntrain:\n  epochs: 3\n  learning_rate: 0.003\n  dropout: 0.2\n")
    args = [a for a in TRAIN_ARGS if not a.startswith(("--epochs", "--learning-rate"))]
    result, name = train(project, ml_env, *args, "--epochs=2", "--name=precedence-bot")
    assert result.returncode == 0, result.output[-3000:]
    assert name == "precedence-bot"
    hyper = read_metadata(project, name)["hyperparameters"]
    assert hyper["epochs"] == 2                 # command line
    assert hyper["learning_rate"] == 0.003      # vergeml.yaml
    assert hyper["dropout"] == 0.2              # vergeml.yaml
    assert hyper["layers"] == 1                 # default
    assert hyper["size"] == 96 and hyper["alpha"] == 0.25


def test_ctrl_c_cancels_and_keeps_a_loadable_checkpoint(digits_project, ml_env):
    """SIGINT mid-training: status cancelled, best checkpoint kept and loadable."""
    import keras
    env = subprocess_env(ml_env)
    before = set(instance_names(digits_project))
    args = [a for a in TRAIN_ARGS if not a.startswith("--epochs")]
    proc = subprocess.Popen(ml_command() + ["train", *args, "--epochs=5000", "--early-stopping-patience=0"],
                            cwd=digits_project,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_signals)
    try:
        name = _wait_for_epochs(digits_project, before, proc, epochs=2, timeout=240)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-3000:]  # cancelled like Ctrl-C, not a crash
    assert "Traceback" not in err and "Cancelled" in err
    meta = read_metadata(digits_project, name)
    assert meta["status"] == "cancelled"
    assert meta["results"]["epochs_done"] >= 2
    assert "test_acc" not in meta["results"]
    folder = digits_project / "trainings" / name / "checkpoints"
    model = keras.saving.load_model(folder / "model.keras")
    assert model.output_shape[-1] == 10
    listing = run_ml_process("list", cwd=digits_project, env=ml_env)
    assert name in listing.stdout and "cancelled" in listing.stdout


def _wait_for_epochs(project, before, proc, epochs, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        new = set(instance_names(project)) - before
        if new:
            name = new.pop()
            try:
                done = read_metadata(project, name)["results"].get("epochs_done", 0)
            except (OSError, TypeError, KeyError):
                done = 0
            if done >= epochs:
                return name
        time.sleep(0.2)
    raise AssertionError("training did not reach the wanted epoch in time")


@pytest.mark.slow
def test_lfw_faces_vs_non_faces(tmp_path, ml_env):
    """scikit-image's lfw_subset: 100 faces, 100 non-faces, 25x25 gray."""
    from PIL import Image
    from skimage import data
    images = data.lfw_subset()
    project = tmp_path / "lfw"
    for index, image in enumerate(images):
        folder = project / "samples" / ("face" if index < 100 else "other")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * 255).astype("uint8"), "L").save(folder / f"{index:03d}.png")
    (project / "vergeml.yaml").write_text("model: imagenet\nval-split: 15%\ntest-split: 15%\n")
    args = [a for a in TRAIN_ARGS if not a.startswith("--epochs")]
    result, name = train(project, ml_env, *args, "--epochs=20")
    assert result.returncode == 0, result.output[-3000:]
    meta = read_metadata(project, name)
    assert meta["data"]["num_test"] >= 20
    assert meta["results"]["test_acc"] >= 0.9, meta["results"]


def test_missing_weights_fail_fast_with_a_clear_message(digits_project, ml_env, tmp_path):
    empty_home = tmp_path / "keras-home"
    (empty_home / "models").mkdir(parents=True)
    env = dict(ml_env, KERAS_HOME=str(empty_home))
    before = set(instance_names(digits_project))
    result = run_ml_process("train", "--architecture=mobilenet", "--alpha=0.25", "--size=96",
                            cwd=digits_project, env=env, timeout=180)
    assert result.returncode == 1
    assert "mobilenet_2_5_224_tf_no_top.h5" in result.stderr
    assert str(empty_home / "models") in result.stderr
    assert "--weights=none" in result.stderr
    assert "Traceback" not in result.stderr
    assert set(instance_names(digits_project)) == before, "no instance for a run that never started"
