"""Issue 14's defaults of the top, through Keras and through ``ml train`` itself.

The original's (sgd at 0.0001 for 5 epochs) left the top far below a logistic
regression on the same features; ``bench/bench_top_probe.py`` measures that.
"""
import pytest
import yaml

from tests.unit.test_data_helpers import digits_project


def test_default_options_compile_adam_at_the_auto_rate():
    import keras
    from vergeml.models.imagenet.options import TRAIN_OPTIONS
    from vergeml.models.imagenet.top import build_top, compile_top
    top = build_top(8, 3, layers=1, dropout=0.0, seed=0)
    compile_top(top, {o.name: o.default for o in TRAIN_OPTIONS})
    assert isinstance(top.optimizer, keras.optimizers.Adam)
    assert float(top.optimizer.learning_rate) == pytest.approx(0.01)


@pytest.mark.filterwarnings("ignore::vergeml.models.imagenet.backbones.SizeWarning")
def test_a_run_stores_the_auto_rates_as_numbers_and_fine_tunes_at_a_hundredth(
        tmp_path, keras_home, monkeypatch, capsys):
    """learning-rate auto is stored as 0.01 (resuming never re-resolves it); phase 2's
    auto is 0.0001 then, not a tenth of 0.01 (that wrecks the backbone)."""
    from vergeml import cli
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
    assert hyper["fine_tune_learning_rate"] == pytest.approx(0.0001)
    assert "learning rate 0.0001)" in out   # phase 2's own line
