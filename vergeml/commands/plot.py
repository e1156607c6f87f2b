"""``ml @name plot:roc|pr|confusion-matrix``: charts of the stored test-split predictions.

The numbers come from ``stats/test_predictions.npz`` (``y_true``, ``y_prob``)
and ``checkpoints/labels.txt`` through scikit-learn metrics; the charts are
drawn with matplotlib's Agg backend (no display needed) and written as PNG to
``trainings/<name>/plots/<kind>.png``. scikit-learn and matplotlib are
imported inside the functions so ``ml help`` stays fast.
"""
import sys
from pathlib import Path

from vergeml import plugins
from vergeml.command import Command, ONE_INSTANCE
from vergeml.errors import UsageError, VergeMLError
from vergeml.fileutil import atomic_path
from vergeml.options import Option
from vergeml.services import has_display
from vergeml.suggest import suggestion

DPI = 100
# Figure sizes in inches; PNGs are these times DPI pixels.
FIGSIZE = {"roc": (8, 6), "pr": (8, 6), "confusion-matrix": (8, 7)}
MAX_LEGEND = 20

OUTPUT = Option("output", metavar="PATH", yaml=False,
                help="Where to write the image (default: trainings/<name>/plots/<kind>.png).")
SHOW = Option("show", type="bool", flag=True, default=False, yaml=False,
              help="Also open the chart in a window (needs a display).")
CLASS = Option("class", metavar="CLASS",
               help="Plot only this class (one-vs-rest); default: every class and the micro average.")


class PlotCommand(Command):
    """Dispatch ``ml @name plot:<kind>`` to the plot plugin."""

    name = "plot"
    description = "Plot ROC or precision-recall curves or a confusion matrix of a trained instance."
    instance = ONE_INSTANCE
    subcommands = plugins.PLOTS
    examples = ("ml @nervous-tron plot:roc", "ml @nervous-tron plot:pr --class=cat",
                "ml @nervous-tron plot:confusion-matrix -n --output=cm.png")


class Predictions:
    """The stored test-split predictions of an instance.

    Attributes:
        y_true: int array (n,) of label indices.
        y_prob: float array (n, classes).
        labels: class names in output order.
        name: the instance name.
    """

    def __init__(self, y_true, y_prob, labels, name=""):
        self.y_true, self.y_prob, self.labels, self.name = y_true, y_prob, list(labels), name

    @property
    def binary(self):
        """``n x classes`` one-hot matrix of the true labels."""
        import numpy as np
        return np.eye(len(self.labels), dtype=int)[self.y_true]

    def class_index(self, name):
        """Index of a class name; UsageError with a suggestion when unknown."""
        if name in self.labels:
            return self.labels.index(name)
        raise UsageError(f"unknown class: {name}.{suggestion(name, self.labels)}".rstrip("."),
                         hint="Classes: " + ", ".join(self.labels[:30]))


def load_predictions(instance):
    """Read and check ``stats/test_predictions.npz`` and the labels.

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
    return Predictions(y_true, y_prob, labels, instance.name)


# -- metrics (no drawing) -----------------------------------------------------------


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
            print(f"warning: class {preds.labels[i]} has no positive or negative test sample; "
                  "left out", file=sys.stderr)
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
    from sklearn.metrics import auc, roc_curve
    onehot = preds.binary
    curves = []
    for i in _with_both_outcomes(preds, _scored_classes(preds, cls)):
        fpr, tpr, _ = roc_curve(onehot[:, i], preds.y_prob[:, i])
        curves.append((preds.labels[i], fpr, tpr, float(auc(fpr, tpr))))
    micro = None
    if cls is None and len(preds.labels) > 2:
        fpr, tpr, _ = roc_curve(onehot.ravel(), preds.y_prob.ravel())
        micro = (fpr, tpr, float(auc(fpr, tpr)))
    return curves, micro, sum(c[3] for c in curves) / len(curves)


def pr_curves(preds, cls=None):
    """Precision-recall curves one-vs-rest.

    Returns:
        ``(curves, micro, ap)`` like :func:`roc_curves`, with ``(label,
        recall, precision, average precision)`` and the macro AP as headline.
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve
    onehot = preds.binary
    curves = []
    for i in _with_both_outcomes(preds, _scored_classes(preds, cls)):
        precision, recall, _ = precision_recall_curve(onehot[:, i], preds.y_prob[:, i])
        ap = float(average_precision_score(onehot[:, i], preds.y_prob[:, i]))
        curves.append((preds.labels[i], recall, precision, ap))
    micro = None
    if cls is None and len(preds.labels) > 2:
        precision, recall, _ = precision_recall_curve(onehot.ravel(), preds.y_prob.ravel())
        micro = (recall, precision, float(average_precision_score(onehot.ravel(), preds.y_prob.ravel())))
    return curves, micro, sum(c[3] for c in curves) / len(curves)


def confusion(preds, normalize=False):
    """Confusion matrix of argmax predictions.

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


# -- drawing ----------------------------------------------------------------------


class _Plot(Command):
    """Shared run(): load predictions, draw, write atomically, print the path."""

    kind = ""
    instance = ONE_INSTANCE
    options = (OUTPUT, SHOW)

    def run(self, args, env):
        instance = env.instance()
        preds = load_predictions(instance)
        plt = _pyplot(args.get("show"))
        fig = plt.figure(figsize=FIGSIZE[self.kind], dpi=DPI)
        try:
            headline = self.draw(fig, preds, args)
            path = Path(args.get("output") or Path(instance.plots_dir) / f"{self.kind}.png")
            _save(fig, path)
            print(_shown(path))
            print(headline)
            if args.get("show"):
                plt.show()
        finally:
            plt.close(fig)
        return 0

    def draw(self, fig, preds, args):
        """Draw onto ``fig``; return the headline text."""
        raise NotImplementedError


class _CurvePlot(_Plot):
    """One curve per class (one-vs-rest), plus the micro average, scored by a metric."""

    metric = ""          # "AUC" or "AP"
    axes_labels = ("", "")
    legend_loc = ""
    title = ""
    macro_text = ""
    step = False         # PR curves are step functions, ROC curves are lines

    def curves(self, preds, cls):
        """``(curves, micro, score)``: per class ``(label, x, y, value)``."""
        raise NotImplementedError

    def draw(self, fig, preds, args):
        curves, micro, score = self.curves(preds, args.get("class"))
        ax = fig.add_subplot()
        plot = (lambda x, y, **kw: ax.step(x, y, where="post", **kw)) if self.step else ax.plot
        if micro:
            plot(micro[0], micro[1], color="black", linestyle=":", linewidth=2.5,
                 label=f"micro-average ({self.metric} = {micro[2]:.3f})")
        for label, x, y, value in curves:
            plot(x, y, linewidth=1.2 if len(curves) > 1 else 2,
                 label=f"{label} ({self.metric} = {value:.3f})" if len(curves) <= MAX_LEGEND else None)
        if not self.step:
            ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)  # chance level
        _axes(ax, *self.axes_labels)
        ax.set_title(f"{self.title} for @{preds.name}" + _headline_note(curves, self.metric, score))
        _legend(ax, self.legend_loc, len(curves))
        return f"{self.metric} {score:.3f}" + _scope(preds, args.get("class"), self.macro_text)


class RocPlot(_CurvePlot):
    """``plot:roc``."""

    name = kind = "roc"
    description = "Plot ROC curves of the test split, with the area under each curve."
    options = (CLASS, OUTPUT, SHOW)
    examples = ("ml @nervous-tron plot:roc", "ml @nervous-tron plot:roc --class=cat")
    metric, title, macro_text = "AUC", "ROC curve", "macro one-vs-rest"
    axes_labels, legend_loc = ("False positive rate", "True positive rate"), "lower right"

    def curves(self, preds, cls):
        return roc_curves(preds, cls)


class PrPlot(_CurvePlot):
    """``plot:pr``."""

    name = kind = "pr"
    description = "Plot precision-recall curves of the test split, with average precision."
    options = (CLASS, OUTPUT, SHOW)
    examples = ("ml @nervous-tron plot:pr", "ml @nervous-tron plot:pr --class=cat")
    metric, title, macro_text = "AP", "Precision-recall curve", "macro average precision"
    axes_labels, legend_loc, step = ("Recall", "Precision"), "lower left", True

    def curves(self, preds, cls):
        return pr_curves(preds, cls)


class ConfusionMatrixPlot(_Plot):
    """``plot:confusion-matrix``."""

    name = kind = "confusion-matrix"
    description = "Plot the confusion matrix of the test split."
    options = (Option("normalize", short="n", type="bool", flag=True, default=False,
                      help="Show each row as fractions of the true class."), OUTPUT, SHOW)
    examples = ("ml @nervous-tron plot:confusion-matrix", "ml @nervous-tron plot:confusion-matrix -n")

    def draw(self, fig, preds, args):
        normalize = bool(args.get("normalize"))
        matrix, accuracy = confusion(preds, normalize)
        ax = fig.add_subplot()
        image = ax.imshow(matrix, interpolation="nearest", cmap="Blues",
                          vmin=0, vmax=1 if normalize else None)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        count = len(preds.labels)
        ticks = range(count)
        small = "small" if count > 10 else None
        tilted = count > 4
        ax.set_xticks(ticks, preds.labels, rotation=45 if tilted else 0,
                      ha="right" if tilted else "center", fontsize=small)
        ax.set_yticks(ticks, preds.labels, fontsize=small)
        if count <= 25:
            _cell_text(ax, matrix, normalize)
        ax.set_xlabel("Predicted label")
        ax.set_ylabel("True label")
        ax.set_title(f"Confusion matrix for @{preds.name}" + (" (normalized)" if normalize else "")
                     + f"\naccuracy {accuracy:.3f} on {len(preds.y_true)} test samples")
        fig.tight_layout()
        return f"accuracy {accuracy:.3f}"


def _cell_text(ax, matrix, normalize):
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, col), value in _cells(matrix):
        ax.text(col, row, f"{value:.2f}" if normalize else f"{int(value)}", ha="center", va="center",
                fontsize="small", color="white" if value > threshold else "black")


def _cells(matrix):
    for row in range(matrix.shape[0]):
        for col in range(matrix.shape[1]):
            yield (row, col), matrix[row, col]


def _axes(ax, xlabel, ylabel):
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.05)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def _legend(ax, loc, curves):
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc=loc, fontsize="small" if curves > 6 else None, ncol=2 if curves > 10 else 1)
    ax.figure.tight_layout()


def _headline_note(curves, metric, score):
    return f" (macro {metric} = {score:.3f})" if len(curves) > 1 else ""


def _scope(preds, cls, macro_text):
    """Explain which number the headline is."""
    if cls is not None:
        return f" (class {cls})"
    if len(preds.labels) == 2:
        return f" (positive class {preds.labels[1]})"
    return f" ({macro_text}, {len(preds.labels)} classes)"


def _pyplot(show):
    """pyplot on the Agg backend unless a window was asked for."""
    import matplotlib
    if not show:
        matplotlib.use("Agg")
    elif not has_display():
        print("warning: no display found; writing the file only", file=sys.stderr)
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path):
    """Write the figure atomically; the format follows the suffix (PNG by default)."""
    fmt = path.suffix.lstrip(".").lower() or "png"
    supported = fig.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise UsageError(f"cannot write .{fmt} files: use one of "
                         + ", ".join("." + s for s in sorted(supported)))
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=DPI)
    except OSError as err:
        raise VergeMLError(f"cannot write {path}: {err.strerror or err}") from None


def _shown(path):
    """The path relative to the current directory when it is below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
