"""What the run pages read from an instance folder, kept while the files are unchanged.

A run's ``data.yaml`` and ``stats/test_predictions.npz`` are read once and
kept in memory under the stat signature of the file they came from, so the
gallery of a 10,000-image test split pages in milliseconds and a run still
training is read again as soon as its metadata changes.
"""
import os
import threading
from collections import OrderedDict

from vergeml.errors import VergeMLError
from vergeml.instances import load_instance

KEEP = 16  # runs kept in memory (the predictions of a big test split are a few MB)


class RunCache:
    """The instances and test predictions of one trainings folder, by file signature.

    Args:
        trainings_dir: the trainings folder.
    """

    def __init__(self, trainings_dir):
        self.trainings_dir = trainings_dir
        self._items = OrderedDict()
        self._lock = threading.Lock()

    def instance(self, name):
        """The instance ``name``, read fully (history included).

        Raises:
            UsageError: no such run; VergeMLError: its metadata is broken.
        """
        path = os.path.join(self.trainings_dir, name, "data.yaml")
        return self._kept(("instance", name), path, lambda: load_instance(self.trainings_dir, name))

    def predictions(self, instance):
        """The run's :class:`vergeml.plots.metrics.Predictions` (files included).

        Raises:
            VergeMLError: the run has none, or they do not match its labels.
        """
        from vergeml.plots.metrics import load_predictions
        return self._kept(("predictions", instance.name), instance.predictions_path,
                          lambda: load_predictions(instance))

    def _kept(self, key, path, read):
        signature = file_signature(path)
        with self._lock:
            item = self._items.get(key)
            if item is not None and item[0] == signature and signature is not None:
                self._items.move_to_end(key)
                return item[1]
        value = read()
        with self._lock:
            self._items[key] = (signature, value)
            while len(self._items) > KEEP:
                self._items.popitem(last=False)
        return value


def file_signature(path):
    """``(inode, size, mtime)`` of a file, or None when it cannot be stat'ed: what changes
    when the file is rewritten."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def confusion_counts(preds):
    """``(matrix, predicted)``: counts (rows true, columns predicted) and the argmax per row."""
    import numpy as np
    classes = len(preds.labels)
    predicted = preds.y_prob.argmax(axis=1)
    matrix = np.bincount(preds.y_true * classes + predicted, minlength=classes * classes)
    return matrix.reshape(classes, classes), predicted


def cell_rows(preds, true_index, predicted_index):
    """The test rows whose true class is ``true_index`` and prediction ``predicted_index``,
    most confident first.

    Raises:
        VergeMLError: an index outside the labels.
    """
    import numpy as np
    for index in (true_index, predicted_index):
        if not 0 <= index < len(preds.labels):
            raise VergeMLError(f"no class number {index}: the run has {len(preds.labels)} classes")
    predicted = preds.y_prob.argmax(axis=1)
    rows = np.flatnonzero((preds.y_true == true_index) & (predicted == predicted_index))
    return rows[np.argsort(-preds.y_prob[rows, predicted_index], kind="stable")].tolist()


def confidently_wrong(preds):
    """The misclassified test rows, the most confident (highest wrong probability) first."""
    import numpy as np
    predicted = preds.y_prob.argmax(axis=1)
    rows = np.flatnonzero(predicted != preds.y_true)
    return rows[np.argsort(-preds.y_prob[rows, predicted[rows]], kind="stable")].tolist()


def history_series(instance):
    """The run's per-epoch rows, by phase: ``{"top": [row, ...], "fine-tune": [...]}``."""
    phases = {}
    for row in instance.metadata.get("history") or []:
        if isinstance(row, dict) and "epoch" in row:
            phases.setdefault(row.get("phase") or "top", []).append(row)
    return phases


def per_label_rows(instance):
    """``[(label, precision, recall, f1), ...]`` from the run's results (empty when absent)."""
    try:
        labels = instance.labels()
    except VergeMLError:  # stopped before its labels were saved
        return []
    rows = []
    for label in labels:
        values = [instance.results.get(f"{label}_{m}") for m in ("precision", "recall", "f1")]
        if any(v is not None for v in values):
            rows.append((label, *values))
    return rows
