"""The training pieces that are Keras objects: the best-epoch checkpoint, the top, the optimizer."""
import numpy as np
import pytest

from vergeml.instances import create_instance


@pytest.fixture
def instance(tmp_path):
    return create_instance(tmp_path / "trainings", "imagenet", "mobilenet",
                           {"layers": 1, "dropout": 0.0}, name="unit-bot")


def run_epochs(instance, logs, patience=0, state=None, phase="top", **rule):
    """The checkpoint callback over ``logs``, epoch k's kernel filled with k (so each epoch's
    weights are recognisable); stops where Keras would (``stop_training``).

    ``state`` continues a run (its epochs are counted on); ``rule``: the callback's
    ``margin`` and ``last_epoch``."""
    from vergeml.models.imagenet.training.callbacks import EpochCheckpoint
    from vergeml.models.imagenet.training.head import build_top
    from vergeml.models.imagenet.training.run_state import RunState
    top = build_top(4, 3, 1, 0.0, seed=1)
    state = state or RunState()
    callback = EpochCheckpoint(instance, state, phase, patience=patience, **rule)
    callback.set_model(top)
    top.stop_training = False
    for epoch, log in enumerate(logs, start=state.epochs_done):
        top.get_layer("predictions").kernel.assign(np.full((4, 3), float(epoch + 1), "float32"))
        callback.on_epoch_end(epoch, dict(log))
        if getattr(top, "stop_training", False):
            break
    return top, callback


def restore_best(callback, top):
    top.load_weights(callback.instance.checkpoints_dir / callback.state.best_file)


def test_checkpoint_keeps_best_val_acc_and_breaks_ties_by_val_loss(instance):
    logs = [{"acc": 0.5, "loss": 1.0, "val_acc": 0.5, "val_loss": 1.0},
            {"acc": 0.6, "loss": 0.8, "val_acc": 0.7, "val_loss": 0.9},
            {"acc": 0.7, "loss": 0.7, "val_acc": 0.7, "val_loss": 0.6},   # tie, lower loss: best
            {"acc": 0.8, "loss": 0.6, "val_acc": 0.7, "val_loss": 0.65},  # tie, higher loss
            {"acc": 0.9, "loss": 0.5, "val_acc": 0.6, "val_loss": 0.5}]
    top, callback = run_epochs(instance, logs)
    assert instance.results["best_epoch"] == 3
    assert instance.results["epochs_done"] == 5
    assert instance.results["val_acc"] == pytest.approx(0.7)
    restore_best(callback, top)
    kernel = np.asarray(top.get_layer("predictions").kernel)
    assert np.all(kernel == 3.0), "the restored weights are not the best epoch's"
    assert [row["epoch"] for row in instance.metadata["history"]] == [1, 2, 3, 4, 5]
    lines = instance.history_path.read_text().splitlines()
    assert lines[0] == "epoch,phase,acc,loss,val_acc,val_loss" and len(lines) == 6
    kernel = np.full((4, 3), 0.0, "float32")  # top.weights.h5 is the best top too
    top.get_layer("predictions").kernel.assign(kernel)
    top.load_weights(instance.top_weights_path)
    assert np.all(np.asarray(top.get_layer("predictions").kernel) == 3.0)


def test_without_validation_every_epoch_replaces_the_checkpoint(instance):
    logs = [{"acc": 0.5, "loss": 1.0}, {"acc": 0.4, "loss": 1.2}]
    top, callback = run_epochs(instance, logs)
    assert instance.results["best_epoch"] == 2
    restore_best(callback, top)
    assert np.all(np.asarray(top.get_layer("predictions").kernel) == 2.0)


def epoch_logs(*val_accs):
    return [{"acc": 0.9, "loss": 0.3, "val_acc": acc, "val_loss": 0.4} for acc in val_accs]


def test_keep_last_judges_only_phase_2s_last_epoch_against_phase_1(instance):
    """The recipe's ``keep: last``: phase 2's best-looking epoch (0.95) is not kept; its
    last (0.85) is, being within the margin of phase 1's best (0.9)."""
    _, first = run_epochs(instance, epoch_logs(0.7, 0.9, 0.8))
    top, callback = run_epochs(instance, epoch_logs(0.8, 0.95, 0.85), state=first.state, phase="fine-tune",
                               margin=lambda best: 0.06, last_epoch=6)
    assert instance.results["best_epoch"] == 6 and callback.state.best_phase == "fine-tune"
    restore_best(callback, top)
    assert np.all(np.asarray(top.get_layer("predictions").kernel) == 6.0)


def test_keep_last_leaves_phase_1_when_the_last_epoch_is_worse_by_more_than_the_margin(instance):
    _, first = run_epochs(instance, epoch_logs(0.7, 0.9, 0.8))
    top, callback = run_epochs(instance, epoch_logs(0.95, 0.83), state=first.state, phase="fine-tune",
                               margin=lambda best: 0.06, last_epoch=5)
    assert instance.results["best_epoch"] == 2 and callback.state.best_phase == "top"
    restore_best(callback, top)
    assert np.all(np.asarray(top.get_layer("predictions").kernel) == 2.0)


def test_keep_last_judges_the_epoch_early_stopping_ends_on(instance):
    _, first = run_epochs(instance, epoch_logs(0.9))
    logs = [{"acc": 0.9, "loss": 0.3, "val_acc": acc, "val_loss": loss}
            for acc, loss in ((0.95, 0.3), (0.9, 0.5), (0.88, 0.6))]
    _, callback = run_epochs(instance, logs, patience=2, state=first.state, phase="fine-tune",
                             margin=lambda best: 0.05, last_epoch=10)
    assert callback.state.epochs_done == 4 and callback.state.stopped_early
    assert instance.results["best_epoch"] == 4


def test_l2_penalty_is_the_weight_penalty_not_the_objectives_surplus():
    """Phase 2's loss carries label smoothing; the penalty shown must not count it."""
    from vergeml.models.imagenet.training.callbacks import plain_losses
    from vergeml.models.imagenet.training.head import build_top
    top = build_top(4, 3, 1, 0.0, seed=1, l2=0.5)
    kernel = np.asarray(top.get_layer("predictions").kernel)
    logs = plain_losses({"loss": 2.0, "cross_entropy": 0.7, "val_cross_entropy": 0.9}, top)
    assert logs["loss"] == pytest.approx(0.7) and logs["val_loss"] == pytest.approx(0.9)
    assert logs["l2_penalty"] == pytest.approx(0.5 * float((kernel ** 2).sum()), rel=1e-5)
    assert "l2_penalty" not in plain_losses({"loss": 2.0, "cross_entropy": 0.7},
                                            build_top(4, 3, 1, 0.0, seed=1))


def test_top_layers_and_dropout():
    from vergeml.models.imagenet.training.head import build_top
    top = build_top(16, 5, layers=3, dropout=0.5, seed=0)
    names = [layer.name for layer in top.layers]
    assert names.count("dense_layer_1") == 1 and names.count("dense_layer_2") == 1
    assert sum("dropout" in n for n in names) == 3
    assert top.output_shape == (None, 5)
    plain = build_top(16, 2, layers=1, dropout=0.0, seed=0)
    assert [type(layer).__name__ for layer in plain.layers] == ["InputLayer", "Dense"]


def test_optimizer_choice_and_decay():
    import keras
    from vergeml.models.imagenet.training.head import make_optimizer
    sgd = make_optimizer("sgd", 0.01, 0.0)
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.momentum == pytest.approx(0.9)
    adam = make_optimizer("adam", 0.01, 0.5)
    assert isinstance(adam, keras.optimizers.Adam)
    schedule = adam._learning_rate
    assert float(schedule(2)) == pytest.approx(0.01 / (1 + 0.5 * 2))
