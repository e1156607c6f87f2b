"""Testing the best epoch: metrics and the stored test predictions."""
import numpy as np

from vergeml.fileutil import atomic_path
from vergeml.instances.run_files import write_predictions_csv
from vergeml.settings.spelling import stored_key
from vergeml.trust.calibration import expected_calibration_error


def test_metrics(y_true, probabilities, num_classes, labels=()):
    """test_acc, test_loss, balanced_acc (the mean of the per-class recalls), macro_f1
    (the mean of the per-class F1), test_ece (expected calibration error, 15 bins),
    (one-vs-rest macro) auc and, given the labels,
    per-label ``<label>_precision``, ``<label>_recall``, ``<label>_f1`` of the test
    predictions. balanced_acc and macro_f1 count the classes present in the test split."""
    from sklearn.metrics import balanced_accuracy_score, f1_score, log_loss, roc_auc_score
    predicted = probabilities.argmax(axis=1)
    present = sorted(int(c) for c in np.unique(y_true))
    results = {"test_acc": float((predicted == y_true).mean()),
               "test_loss": float(log_loss(y_true, probabilities, labels=list(range(num_classes)))),
               "balanced_acc": float(balanced_accuracy_score(y_true, predicted)),
               "macro_f1": float(f1_score(y_true, predicted, labels=present, average="macro",
                                          zero_division=0)),
               "test_ece": expected_calibration_error(probabilities, y_true)}
    if len(np.unique(y_true)) == num_classes:  # AUC is undefined when a class is absent
        if num_classes == 2:
            results["auc"] = float(roc_auc_score(y_true, probabilities[:, 1]))
        else:
            results["auc"] = float(roc_auc_score(y_true, probabilities, multi_class="ovr",
                                                 labels=list(range(num_classes))))
    if labels:
        results.update(label_metrics(y_true, predicted, labels))
    return results


def label_metrics(y_true, predicted, labels):
    """Per-label precision, recall and F1 (scikit-learn), as the original stored them.

    Stored as ``stored_key(f"{label}-precision")`` (``cat_precision``; ``Tabby
    Cat`` gives ``tabby_cat_precision``), so ``ml list -c cat-precision`` finds it.
    A label absent from the test split gets none (like auc); a label never
    predicted has precision 0. Labels whose keys collide (``a-b`` and ``a_b``)
    get none, with a warning.

    Args:
        y_true: true class indices.
        predicted: predicted class indices.
        labels: class names in model output order.
    """
    from sklearn.metrics import precision_recall_fscore_support
    from vergeml.console import warn
    indices = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, predicted, labels=indices, zero_division=0)
    keys = [stored_key(f"{label}-precision") for label in labels]
    clashing = sorted({labels[i] for i, key in enumerate(keys) if keys.count(key) > 1})
    if clashing:
        warn("no per-label metrics for labels that differ only in case, '-', '_' or spaces: "
             + ", ".join(clashing))
    results = {}
    for i, label in enumerate(labels):
        if support[i] == 0 or label in clashing:
            continue
        for metric, values in (("precision", precision), ("recall", recall), ("f1", f1)):
            results[stored_key(f"{label}-{metric}")] = float(values[i])
    return results


def save_predictions(instance, y_true, probabilities, samples, labels):
    """``stats/test_predictions.npz`` (for plots) and the readable ``stats/predictions.csv``."""
    files = [s.relpath for s in samples]
    with atomic_path(instance.predictions_path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, y_true=y_true, y_prob=probabilities.astype("float32"),
                     files=np.array(files))
    write_predictions_csv(instance, files, y_true.tolist(), probabilities.tolist(), list(labels))
