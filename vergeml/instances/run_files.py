"""The readable files a run keeps beside ``data.yaml``: the project file it was
started with (``vergeml.yaml``) and its test predictions (``stats/predictions.csv``).

Both are written atomically. Nothing here imports NumPy or TensorFlow: the
probabilities may be any nested sequence of numbers.
"""
import csv
import io

import yaml

from vergeml.fileutil import atomic_write_text
from vergeml.instances.instance import _plain

# Heading of the project copy written when the run had no project file.
RESOLVED_HEADER = ("# No vergeml.yaml was used for this run: these are the settings as\n"
                   "# resolved when training started (command line > defaults).\n")
PREDICTION_COLUMNS = ("file", "true_label", "predicted_label")
PROBABILITY_PREFIX = "prob_"


def read_project_text(path):
    """The text of the project file, read when training starts (None: no file).

    Args:
        path: the project file's path, or None when the run has none.

    Returns:
        str or None. A file that vanished since it was parsed counts as none.
    """
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except OSError:
        return None


def resolved_project_text(settings, sections):
    """A project file holding resolved settings (for a run without ``vergeml.yaml``).

    Args:
        settings: global options, canonical name -> value (None values are left out).
        sections: further top-level sections, e.g. ``{"data": {...}, "train": {...}}``.

    Returns:
        YAML text that ``ml -f`` would accept, headed by :data:`RESOLVED_HEADER`.
    """
    content = {k: v for k, v in settings.items() if v is not None}
    content.update({k: v for k, v in sections.items() if v not in (None, {})})
    return RESOLVED_HEADER + yaml.safe_dump(_plain(content), sort_keys=False,
                                            default_flow_style=False, allow_unicode=True)


def write_project_file(instance, text):
    """Write ``trainings/<name>/vergeml.yaml`` atomically."""
    atomic_write_text(instance.project_file_path, text)


def predictions_csv(files, y_true, probabilities, labels):
    """``stats/predictions.csv`` text: one row per test sample.

    Columns: ``file``, ``true_label``, ``predicted_label`` and ``prob_<label>``
    per label in model output order (6 decimals). The prefix keeps a label
    called ``file`` from clashing with the first column.

    Args:
        files: relative sample paths.
        y_true: true class indices.
        probabilities: one row of class probabilities per sample.
        labels: class names in model output order.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*PREDICTION_COLUMNS, *(PROBABILITY_PREFIX + label for label in labels)])
    for name, truth, row in zip(files, y_true, probabilities):
        row = [float(p) for p in row]
        best = max(range(len(row)), key=row.__getitem__)
        writer.writerow([name, labels[int(truth)], labels[best], *(f"{p:.6f}" for p in row)])
    return out.getvalue()


def write_predictions_csv(instance, files, y_true, probabilities, labels):
    """Write ``stats/predictions.csv`` atomically (see :func:`predictions_csv`)."""
    atomic_write_text(instance.predictions_csv_path,
                      predictions_csv(files, y_true, probabilities, labels))
