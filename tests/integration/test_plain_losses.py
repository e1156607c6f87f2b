"""Issue 30 item 6: every stored loss is the cross-entropy the glossary defines.

Keras' ``loss`` and ``val_loss`` include the L2 penalty of the top's kernels;
``test_loss`` never did. With a strong penalty the difference is large, so a
stored val_loss with the penalty cannot pass for the cross-entropy here.
"""
import numpy as np
import pytest
from sklearn.metrics import log_loss

from tests.integration.phase1_helpers import CLASSES, DIM, features, train
from vergeml.models.imagenet.training.run_state import load_state


def test_stored_losses_are_the_plain_cross_entropy(tmp_path):
    instance = train(tmp_path / "trainings", "plain", l2=10.0, epochs=1)
    assert instance.metadata["status"] == "finished"
    (row,) = instance.metadata["history"]
    x_val, y_val = features()["val"]
    x_test, y_test = features()["test"]
    # The epoch's checkpoint as trained; the saved top.weights.h5 may have a calibration
    # temperature folded into its softmax, and the test is of the saved model.
    top = best_top(instance, instance.checkpoints_dir / load_state(instance.checkpoints_dir).best_file)
    val_loss = log_loss(y_val, top.predict(x_val, verbose=0), labels=list(range(CLASSES)))
    assert row["val_loss"] == pytest.approx(val_loss, rel=1e-4)
    assert instance.results["val_loss"] == pytest.approx(val_loss, rel=1e-4)
    saved = best_top(instance, instance.top_weights_path)
    test_loss = log_loss(y_test, saved.predict(x_test, verbose=0), labels=list(range(CLASSES)))
    assert instance.results["test_loss"] == pytest.approx(test_loss, rel=1e-4)
    # The penalty at l2=10 is several times the cross-entropy: it is not in either loss.
    penalty = 10.0 * sum(float(np.sum(np.square(w))) for w in top.get_layer("predictions").get_weights()[:1])
    assert penalty > val_loss
    lines = instance.history_path.read_text().splitlines()
    assert lines[0] == "epoch,phase,acc,loss,val_acc,val_loss"


def best_top(instance, weights):
    from vergeml.models.imagenet.training.head import build_top
    top = build_top(DIM, CLASSES, 1, 0.0, 1)
    top.load_weights(weights)
    return top
