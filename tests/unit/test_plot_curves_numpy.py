"""The ROC and PR curves of ``vergeml.plots.metrics`` are NumPy only (scikit-learn's import
costs ``ml ui`` 1.5-2 s on a run's first chart, bench/bench_ui.py); they must give exactly
scikit-learn's points and areas, ties and all."""
import numpy as np
import pytest
from sklearn.metrics import (auc, average_precision_score, precision_recall_curve,
                             roc_auc_score, roc_curve)

from vergeml.plots.metrics import Predictions, pr_curves, roc_curves


def predictions(seed, classes, n, ties):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, classes, n)
    y_true[:classes] = np.arange(classes)  # every class present
    logits = rng.normal(size=(n, classes)) + 2.0 * np.eye(classes)[y_true]
    y_prob = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    if ties:
        y_prob = np.round(y_prob, 1)  # many equal scores
    return Predictions(y_true, y_prob, [f"c{i}" for i in range(classes)])


CASES = [(seed, classes, n, ties) for seed in range(4) for classes in (2, 3, 5)
         for n, ties in ((40, False), (300, True))]


@pytest.mark.parametrize("seed, classes, n, ties", CASES)
def test_roc_equals_scikit_learn(seed, classes, n, ties):
    preds = predictions(seed, classes, n, ties)
    curves, micro, headline = roc_curves(preds)
    onehot = np.eye(classes, dtype=int)[preds.y_true]
    areas = []
    for label, fpr, tpr, area in curves:
        i = preds.labels.index(label)
        want_fpr, want_tpr, _ = roc_curve(onehot[:, i], preds.y_prob[:, i])
        np.testing.assert_allclose(fpr, want_fpr, atol=1e-12)
        np.testing.assert_allclose(tpr, want_tpr, atol=1e-12)
        assert area == pytest.approx(auc(want_fpr, want_tpr), abs=1e-12)
        areas.append(roc_auc_score(onehot[:, i], preds.y_prob[:, i]))
    assert headline == pytest.approx(np.mean(areas), abs=1e-12)
    if classes > 2:
        want = roc_curve(onehot.ravel(), preds.y_prob.ravel())
        np.testing.assert_allclose(micro[0], want[0], atol=1e-12)
        np.testing.assert_allclose(micro[1], want[1], atol=1e-12)


@pytest.mark.parametrize("seed, classes, n, ties", CASES)
def test_pr_equals_scikit_learn(seed, classes, n, ties):
    preds = predictions(seed, classes, n, ties)
    curves, micro, _ = pr_curves(preds)
    onehot = np.eye(classes, dtype=int)[preds.y_true]
    for label, recall, precision, ap in curves:
        i = preds.labels.index(label)
        want_p, want_r, _ = precision_recall_curve(onehot[:, i], preds.y_prob[:, i])
        np.testing.assert_allclose(recall, want_r, atol=1e-12)
        np.testing.assert_allclose(precision, want_p, atol=1e-12)
        assert ap == pytest.approx(average_precision_score(onehot[:, i], preds.y_prob[:, i]),
                                   abs=1e-12)
    if classes > 2:
        assert micro[2] == pytest.approx(average_precision_score(onehot.ravel(),
                                                                 preds.y_prob.ravel()), abs=1e-12)
