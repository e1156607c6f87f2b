"""Issue 14's defaults of the top, through Keras and through ``ml train`` itself.

The original's (sgd at 0.0001 for 5 epochs) left the top far below a logistic
regression on the same features; ``bench/bench_top_probe.py`` measures that.
"""
import pytest
import yaml

from tests.unit.test_data_helpers import digits_project


def test_default_options_compile_adam_at_the_auto_rate():
    import keras
    from vergeml.models.imagenet.imagenet_options import TRAIN_OPTIONS
    from vergeml.models.imagenet.training.head import build_top, compile_top
    top = build_top(8, 3, layers=1, dropout=0.0, seed=0)
    compile_top(top, {o.name: o.default for o in TRAIN_OPTIONS})
    assert isinstance(top.optimizer, keras.optimizers.Adam)
    assert float(top.optimizer.learning_rate) == pytest.approx(0.01)


def test_l2_penalises_every_dense_kernel_and_zero_adds_nothing():
    import numpy as np
    from vergeml.models.imagenet.training.head import build_top
    top = build_top(8, 3, layers=2, dropout=0.0, seed=0, l2=0.01)
    top(np.ones((1, 8), "float32"))
    kernels = [layer.kernel for layer in top.layers if hasattr(layer, "kernel")]
    expected = sum(0.01 * float(np.sum(np.square(k.numpy()))) for k in kernels)
    assert len(top.losses) == 2
    assert float(sum(top.losses)) == pytest.approx(expected, rel=1e-5)
    plain = build_top(8, 3, layers=2, dropout=0.0, seed=0)
    plain(np.ones((1, 8), "float32"))
    assert not plain.losses


@pytest.mark.filterwarnings("ignore::vergeml.models.imagenet.backbones.SizeWarning")
def test_a_run_stores_the_auto_rates_as_numbers_and_fine_tunes_at_3_percent(
        tmp_path, keras_home, monkeypatch, capsys):
    """learning-rate auto is stored as 0.01 (resuming never re-resolves it); phase 2's
    auto is 0.0003 then, not a tenth of 0.01 (that wrecks the backbone)."""
    from vergeml.cli import main as cli
    monkeypatch.setenv("VERGEML_OFFLINE", "1")
    root = digits_project(tmp_path / "p", count=60)
    status = cli.main(["--project-dir", str(root), "train", "--architecture=mobilenet",
                       "--alpha=0.25", "--size=96", "--epochs=2", "--fine-tune-epochs=1",
                       "--fine-tune-layers=2", "--name=auto-bot"])
    out = capsys.readouterr().out
    assert status == 0, out[-3000:]
    hyper = yaml.safe_load((root / "trainings" / "auto-bot" / "data.yaml").read_text())["hyperparameters"]
    assert hyper["optimizer"] == "adam"
    assert hyper["learning_rate"] == pytest.approx(0.01)
    assert hyper["fine_tune_learning_rate"] == pytest.approx(0.0003)
    # l2 auto: stored as the number for this run's training split (C = 2 spread over it).
    train = yaml.safe_load((root / "trainings" / "auto-bot" / "data.yaml").read_text())
    assert hyper["l2"] == pytest.approx(1 / (4 * train["data"]["num_train"]))
    assert "learning rate 0.0003;" in out   # phase 2's own line
