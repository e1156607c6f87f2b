"""matplotlib drawing of the plot metrics, and writing the figure to a file.

matplotlib is imported inside :func:`pyplot` so loading the plot plugins for
``ml help`` stays fast; the Agg backend is used unless a window was asked
for, so no display is needed.
"""
from pathlib import Path

from vergeml.console import warn
from vergeml.errors import UsageError, VergeMLError
from vergeml.fileutil import atomic_path
from vergeml.services import has_display

DPI = 100
# Figure sizes in inches; PNGs are these times DPI pixels.
FIGSIZE = {"roc": (8, 6), "pr": (8, 6), "confusion-matrix": (8, 7)}
# More curves than this make the legend unreadable: it is left out.
MAX_LEGEND = 20


def pyplot(show):
    """pyplot on the Agg backend unless a window was asked for.

    Args:
        show: whether the chart should also open in a window.

    Returns:
        The ``matplotlib.pyplot`` module.
    """
    import matplotlib
    if not show:
        matplotlib.use("Agg")
    elif not has_display():
        warn("no display found; writing the file only")
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save(fig, path):
    """Write the figure atomically; the format follows the suffix (PNG by default).

    Args:
        fig: the matplotlib figure.
        path: the target :class:`~pathlib.Path`.

    Raises:
        UsageError: for a suffix matplotlib cannot write.
        VergeMLError: when the file cannot be written.
    """
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


def shown(path):
    """The path relative to the current directory when it is below it, else as given."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def draw_curves(fig, curves, micro, score, *, metric, title, axes_labels, legend_loc, step=False):
    """One curve per class, plus the micro average, on a unit square.

    Args:
        fig: the matplotlib figure.
        curves: ``(label, x, y, value)`` per class.
        micro: ``(x, y, value)`` of the micro average, or None.
        score: the macro value, shown in the title when there are several curves.
        metric: the value's name ("AUC", "AP").
        title: the chart title, ending with the instance name.
        axes_labels: ``(xlabel, ylabel)``.
        legend_loc: matplotlib legend location.
        step: draw step functions (PR curves) instead of lines with a chance diagonal (ROC).
    """
    ax = fig.add_subplot()
    plot = (lambda x, y, **kw: ax.step(x, y, where="post", **kw)) if step else ax.plot
    if micro:
        plot(micro[0], micro[1], color="black", linestyle=":", linewidth=2.5,
             label=f"micro-average ({metric} = {micro[2]:.3f})")
    for label, x, y, value in curves:
        plot(x, y, linewidth=1.2 if len(curves) > 1 else 2,
             label=f"{label} ({metric} = {value:.3f})" if len(curves) <= MAX_LEGEND else None)
    if not step:
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)  # chance level
    _axes(ax, *axes_labels)
    ax.set_title(title + (f" (macro {metric} = {score:.3f})" if len(curves) > 1 else ""))
    _legend(ax, legend_loc, len(curves))


def draw_confusion(fig, matrix, labels, *, normalize, title):
    """A confusion matrix as a heat map, with the counts (or fractions) in the cells.

    Args:
        fig: the matplotlib figure.
        matrix: square array, rows true classes, columns predicted.
        labels: class names in matrix order.
        normalize: the matrix holds row fractions (colour scale 0..1).
        title: the chart title.
    """
    ax = fig.add_subplot()
    image = ax.imshow(matrix, interpolation="nearest", cmap="Blues",
                      vmin=0, vmax=1 if normalize else None)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    count = len(labels)
    ticks = range(count)
    small = "small" if count > 10 else None
    tilted = count > 4
    ax.set_xticks(ticks, labels, rotation=45 if tilted else 0,
                  ha="right" if tilted else "center", fontsize=small)
    ax.set_yticks(ticks, labels, fontsize=small)
    if count <= 25:  # beyond that the numbers no longer fit the cells
        _cell_text(ax, matrix, normalize)
    ax.set_xlabel("Predicted label")
    ax.set_ylabel("True label")
    ax.set_title(title)
    fig.tight_layout()


def _cell_text(ax, matrix, normalize):
    # White text on dark cells, black on light ones.
    threshold = matrix.max() / 2 if matrix.size else 0
    for row in range(matrix.shape[0]):
        for col in range(matrix.shape[1]):
            value = matrix[row, col]
            ax.text(col, row, f"{value:.2f}" if normalize else f"{int(value)}", ha="center",
                    va="center", fontsize="small", color="white" if value > threshold else "black")


def _axes(ax, xlabel, ylabel):
    # A little margin so curves along the borders stay visible.
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.05)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def _legend(ax, loc, curves):
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc=loc, fontsize="small" if curves > 6 else None, ncol=2 if curves > 10 else 1)
    ax.figure.tight_layout()
