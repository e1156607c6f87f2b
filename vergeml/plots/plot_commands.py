"""The ``vergeml.plot`` plugins: ``plot:roc``, ``plot:pr`` and ``plot:confusion-matrix``.

Each loads the stored test predictions (:mod:`vergeml.plots.metrics`), draws
them (:mod:`vergeml.plots.drawing`) and writes the chart to
``trainings/<name>/plots/<kind>.png`` unless ``--output`` says otherwise.
"""
from pathlib import Path

from vergeml.commands.command_base import Command, ONE_INSTANCE
from vergeml.settings.option import Option
from vergeml.plots import drawing
from vergeml.plots.metrics import confusion, load_predictions, pr_curves, roc_curves

OUTPUT = Option("output", metavar="PATH",
                help="Where to write the image (default: trainings/<name>/plots/<kind>.png).")
SHOW = Option("show", type="bool", flag=True, default=False,
              help="Also open the chart in a window (needs a display).")
CLASS = Option("class", metavar="CLASS",
               help="Plot only this class (one-vs-rest); default: every class and the micro average.")


class _Plot(Command):
    """Shared run(): load predictions, draw, write atomically, print the path."""

    kind = ""
    instance = ONE_INSTANCE
    options = (OUTPUT, SHOW)

    def run(self, args, env):
        instance = env.instance()
        preds = load_predictions(instance)
        plt = drawing.pyplot(args.get("show"))
        fig = plt.figure(figsize=drawing.FIGSIZE[self.kind], dpi=drawing.DPI)
        try:
            headline = self.draw(fig, preds, args)
            path = Path(args.get("output") or Path(instance.plots_dir) / f"{self.kind}.png")
            drawing.save(fig, path)
            print(drawing.shown(path))
            print(headline)
            if args.get("show"):
                plt.show()
        finally:
            plt.close(fig)
        return 0

    def draw(self, fig, preds, args):
        """Draw onto ``fig``.

        Args:
            fig: the matplotlib figure.
            preds: :class:`~vergeml.plots.metrics.Predictions`.
            args: the resolved options.

        Returns:
            The headline text printed after the path.
        """
        raise NotImplementedError


class _CurvePlot(_Plot):
    """One curve per class (one-vs-rest), plus the micro average, scored by a metric."""

    metric = ""          # "AUC" or "AP"
    axes_labels = ("", "")
    legend_loc = ""
    title = ""
    macro_text = ""
    step = False         # PR curves are step functions, ROC curves are lines

    # metrics function: (preds, cls) -> (curves, micro, score), per class (label, x, y, value)
    curves = None

    def draw(self, fig, preds, args):
        curves, micro, score = self.curves(preds, args.get("class"))
        drawing.draw_curves(fig, curves, micro, score, metric=self.metric,
                            title=f"{self.title} for @{preds.name}", axes_labels=self.axes_labels,
                            legend_loc=self.legend_loc, step=self.step)
        return f"{self.metric} {score:.3f}" + _scope(preds, args.get("class"), self.macro_text)


class RocPlot(_CurvePlot):
    """``plot:roc``."""

    name = kind = "roc"
    description = "Plot ROC curves of the test split, with the area under each curve."
    options = (CLASS, OUTPUT, SHOW)
    examples = ("ml @nervous-tron plot:roc", "ml @nervous-tron plot:roc --class=cat")
    metric, title, macro_text = "AUC", "ROC curve", "macro one-vs-rest"
    axes_labels, legend_loc = ("False positive rate", "True positive rate"), "lower right"
    curves = staticmethod(roc_curves)


class PrPlot(_CurvePlot):
    """``plot:pr``."""

    name = kind = "pr"
    description = "Plot precision-recall curves of the test split, with average precision."
    options = (CLASS, OUTPUT, SHOW)
    examples = ("ml @nervous-tron plot:pr", "ml @nervous-tron plot:pr --class=cat")
    metric, title, macro_text = "AP", "Precision-recall curve", "macro average precision"
    axes_labels, legend_loc, step = ("Recall", "Precision"), "lower left", True
    curves = staticmethod(pr_curves)


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
        title = (f"Confusion matrix for @{preds.name}" + (" (normalized)" if normalize else "")
                 + f"\naccuracy {accuracy:.3f} on {len(preds.y_true)} test samples")
        drawing.draw_confusion(fig, matrix, preds.labels, normalize=normalize, title=title)
        return f"accuracy {accuracy:.3f}"


def _scope(preds, cls, macro_text):
    """Explain which number the headline is."""
    if cls is not None:
        return f" (class {cls})"
    if len(preds.labels) == 2:
        return f" (positive class {preds.labels[1]})"
    return f" ({macro_text}, {len(preds.labels)} classes)"
