"""The numbers behind the plots: stored test predictions, ROC/PR curves, confusion matrix.

The predictions come from ``stats/test_predictions.npz`` (``y_true``,
``y_prob``) and ``checkpoints/labels.txt``. NumPy and scikit-learn are
imported inside the functions so loading the plot plugins for ``ml help``
stays fast. The ROC and PR curves are NumPy only (the same points as
scikit-learn's ``roc_curve``, ``precision_recall_curve`` and
``average_precision_score``): importing scikit-learn takes 1.5-2 s, which
``ml ui`` would pay on the first chart of a run.
"""
from pathlib import Path

from vergeml.console import warn
from vergeml.errors import UsageError, VergeMLError
from vergeml.settings.suggest import suggestion


class Predictions:
    """The stored test-split predictions of an instance.

    Attributes:
        y_true: int array (n,) of label indices.
        y_prob: float array (n, classes).
        labels: class names in output order.
        name: the instance name.
        files: the test files (paths relative to the samples folder), in row order;
            empty when the run stored none.
    """

    def __init__(self, y_true, y_prob, labels, name="", files=()):
        self.y_true, self.y_prob, self.labels, self.name = y_true, y_prob, list(labels), name
        self.files = list(files)

    @property
    def binary(self):
        """``n x classes`` one-hot matrix of the true labels."""
        import numpy as np
        return np.eye(len(self.labels), dtype=int)[self.y_true]

    def class_index(self, name):
        """Index of a class name.

        Args:
            name: a class name.

        Returns:
            Its index in :attr:`labels`.

        Raises:
            UsageError: for an unknown class, with a did-you-mean suggestion.
        """
        if name in self.labels:
            return self.labels.index(name)
        raise UsageError(f"unknown class: {name}.{suggestion(name, self.labels)}".rstrip("."),
                         hint="Classes: " + ", ".join(self.labels[:30]))


def load_predictions(instance):
    """Read and check ``stats/test_predictions.npz`` and the labels.

    Args:
        instance: the trained instance.

    Returns:
        :class:`Predictions`.

    Raises:
        VergeMLError: when the instance has no (or inconsistent) predictions.
    """
    import numpy as np
    path = Path(instance.predictions_path)
    if not path.is_file():
        if (instance.metadata.get("data") or {}).get("num_test") == 0:
            raise VergeMLError(f"@{instance.name} has no test predictions: it was trained "
                               "without a test split", hint="Train with --test-split > 0 to plot.")
        raise VergeMLError(f"@{instance.name} has no test predictions (was it cancelled before testing?)",
                           hint=f"Expected {path}.")
    try:
        with np.load(path, allow_pickle=False) as data:
            y_true = np.asarray(data["y_true"]).astype(int).ravel()
            y_prob = np.asarray(data["y_prob"], dtype=np.float64)
            files = [str(f) for f in data["files"]] if "files" in data.files else []
        labels = list(instance.labels())
    except (OSError, KeyError, ValueError) as err:
        raise VergeMLError(f"cannot read the test predictions of @{instance.name}: {err}") from None
    if y_prob.ndim != 2 or len(y_prob) != len(y_true) or y_prob.shape[1] != len(labels):
        raise VergeMLError(f"{path}: y_prob has shape {y_prob.shape}, expected "
                           f"({len(y_true)}, {len(labels)}) for {len(labels)} labels")
    if not len(y_true):
        raise VergeMLError(f"@{instance.name} has no test samples to plot")
    if y_true.min() < 0 or y_true.max() >= len(labels):
        raise VergeMLError(f"{path}: y_true has label indices outside 0..{len(labels) - 1}")
    if files and len(files) != len(y_true):
        files = []  # rows that cannot be matched to files are not shown against the wrong ones
    return Predictions(y_true, y_prob, labels, instance.name, files)


def _scored_classes(preds, cls):
    """Classes to draw: the chosen one, the positive class of a binary problem, or all."""
    if cls is not None:
        return [preds.class_index(cls)]
    return [1] if len(preds.labels) == 2 else list(range(len(preds.labels)))


def _with_both_outcomes(preds, indices):
    """Drop classes whose curve is undefined (no positive or no negative test sample)."""
    present = set(preds.y_true.tolist())
    usable = [i for i in indices if i in present and len(present) > 1]
    for i in indices:
        if i not in usable:
            warn(f"class {preds.labels[i]} has no positive or negative test sample; left out")
    if not usable:
        raise VergeMLError(f"@{preds.name}: the test split has a single class, curves are undefined")
    return usable


def roc_curves(preds, cls=None):
    """ROC curves one-vs-rest.

    Args:
        preds: :class:`Predictions`.
        cls: a class name, or None for every class (binary: the positive class).

    Returns:
        ``(curves, micro, auc)``: ``curves`` is a list of ``(label, fpr, tpr,
        auc)``; ``micro`` the micro-average ``(fpr, tpr, auc)`` or None; ``auc``
        the headline: the class's AUC, or the macro one-vs-rest AUC (equal to
        ``roc_auc_score(y_true, y_prob, multi_class='ovr')``).
    """
    onehot = preds.binary
    curves = []
    for i in _with_both_outcomes(preds, _scored_classes(preds, cls)):
        fpr, tpr = _roc(onehot[:, i], preds.y_prob[:, i])
        curves.append((preds.labels[i], fpr, tpr, _area(fpr, tpr)))
    micro = None
    if cls is None and len(preds.labels) > 2:
        fpr, tpr = _roc(onehot.ravel(), preds.y_prob.ravel())
        micro = (fpr, tpr, _area(fpr, tpr))
    return curves, micro, sum(c[3] for c in curves) / len(curves)


def pr_curves(preds, cls=None):
    """Precision-recall curves one-vs-rest.

    Args:
        preds: :class:`Predictions`.
        cls: a class name, or None for every class (binary: the positive class).

    Returns:
        ``(curves, micro, ap)`` like :func:`roc_curves`, with ``(label,
        recall, precision, average precision)`` and the macro AP as headline.
    """
    onehot = preds.binary
    curves = []
    for i in _with_both_outcomes(preds, _scored_classes(preds, cls)):
        recall, precision, ap = _pr(onehot[:, i], preds.y_prob[:, i])
        curves.append((preds.labels[i], recall, precision, ap))
    micro = None
    if cls is None and len(preds.labels) > 2:
        micro = _pr(onehot.ravel(), preds.y_prob.ravel())
    return curves, micro, sum(c[3] for c in curves) / len(curves)


def _thresholded(y_true, y_score):
    """``(fps, tps)`` at each distinct score, highest first (sklearn's _binary_clf_curve)."""
    import numpy as np
    order = np.argsort(y_score, kind="mergesort")[::-1]
    y_score, y_true = y_score[order], y_true[order]
    ends = np.r_[np.flatnonzero(np.diff(y_score)), y_true.size - 1]
    tps = np.cumsum(y_true, dtype=np.float64)[ends]
    return 1 + ends - tps, tps


def _roc(y_true, y_score):
    """``(fpr, tpr)`` as ``sklearn.metrics.roc_curve`` gives them (collinear points dropped)."""
    import numpy as np
    fps, tps = _thresholded(y_true, y_score)
    if len(fps) > 2:
        keep = np.flatnonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])
        fps, tps = fps[keep], tps[keep]
    fps, tps = np.r_[0, fps], np.r_[0, tps]
    return fps / fps[-1], tps / tps[-1]


def _area(x, y):
    """The trapezoidal area under ``y(x)`` (``sklearn.metrics.auc`` of increasing x)."""
    import numpy as np
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1])) / 2)


def _pr(y_true, y_score):
    """``(recall, precision, average precision)`` as ``precision_recall_curve`` and
    ``average_precision_score`` give them."""
    import numpy as np
    fps, tps = _thresholded(y_true, y_score)
    predicted = tps + fps
    precision = np.divide(tps, predicted, out=np.zeros_like(tps), where=predicted != 0)
    recall = tps / tps[-1] if tps[-1] else np.ones_like(tps)
    precision, recall = np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0]
    return recall, precision, float(-np.sum(np.diff(recall) * precision[:-1]))


def confusion(preds, normalize=False):
    """Confusion matrix of argmax predictions.

    Args:
        preds: :class:`Predictions`.
        normalize: divide each row by its total.

    Returns:
        ``(matrix, accuracy)``; rows are true classes, columns predicted;
        normalized rows sum to 1 (a class without test samples stays 0).
    """
    import numpy as np
    from sklearn.metrics import confusion_matrix
    predicted = preds.y_prob.argmax(axis=1)
    matrix = confusion_matrix(preds.y_true, predicted, labels=list(range(len(preds.labels))))
    accuracy = float(np.trace(matrix) / matrix.sum())
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        matrix = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    return matrix, accuracy
