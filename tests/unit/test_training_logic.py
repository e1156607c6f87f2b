"""Unit tests of the training pieces: the test metrics (the best-epoch rule, the top and
the optimizer are Keras objects: tests/integration/test_training_logic.py)."""
import numpy as np
import pytest


def test_test_metrics_match_sklearn():
    from sklearn.metrics import log_loss, roc_auc_score
    from vergeml.models.imagenet.training.evaluation import test_metrics
    rng = np.random.default_rng(0)
    y = np.array([0, 1, 2, 2, 1, 0, 1, 2])
    p = rng.dirichlet(np.ones(3), size=len(y))
    metrics = test_metrics(y, p, 3)
    assert metrics["test_acc"] == pytest.approx((p.argmax(1) == y).mean())
    assert metrics["test_loss"] == pytest.approx(log_loss(y, p))
    assert metrics["auc"] == pytest.approx(roc_auc_score(y, p, multi_class="ovr"))


def test_auc_is_left_out_when_a_class_is_missing_from_test():
    from vergeml.models.imagenet.training.evaluation import test_metrics
    y = np.array([0, 0, 1, 1])
    p = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.3, 0.6, 0.1]])
    metrics = test_metrics(y, p, 3)
    assert metrics["test_acc"] == 1.0 and "auc" not in metrics


def test_balanced_accuracy_and_macro_f1_show_a_lost_minority_class():
    from vergeml.models.imagenet.training.evaluation import test_metrics
    y = np.array([0] * 9 + [1])               # 9 cats, 1 dog
    p = np.tile([[0.9, 0.1]], (10, 1))         # always "cat"
    metrics = test_metrics(y, p, 2)
    assert metrics["test_acc"] == pytest.approx(0.9)    # looks good
    assert metrics["balanced_acc"] == pytest.approx(0.5)  # the dog is lost
    assert metrics["macro_f1"] == pytest.approx((18 / 19 + 0) / 2)
