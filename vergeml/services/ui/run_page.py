"""The page of one run: results, per-label metrics, learning curves, the confusion
matrix (each cell a link to its images), ROC and PR curves, hyperparameters, and
its status, live while it trains (``/run/<name>/status``, polled by ``ui.js``).
"""
import json
import math

from werkzeug.wrappers import Response

from vergeml.errors import VergeMLError
from vergeml.instances.listing import format_cell
from vergeml.services.ui import svg_charts
from vergeml.services.ui.page_shell import esc, link, message, table, url
from vergeml.services.ui.run_reading import confusion_counts, history_series, per_label_rows

RESULT_KEYS = ("test_acc", "test_loss", "balanced_acc", "macro_f1", "auc", "test_ece",
               "test_rejected", "reject_threshold", "val_acc", "val_loss", "acc", "loss",
               "best_epoch", "epochs_done", "tuned", "selection", "training_start", "training_end")
SVG = "image/svg+xml"
METRICS = {"acc": ("accuracy", "acc", "val_acc"), "loss": ("loss", "loss", "val_loss")}


def run_page(ctx, name):
    """``GET /run/<name>``."""
    instance = ctx.runs.instance(name)
    status = instance.status or "unknown"
    head = (f'<p class="run-status">Status: <strong id="status" data-status="{esc(status)}" '
            f'data-url="{esc(url("/run/" + name + "/status"))}">{esc(status)}</strong>'
            f' <span id="epoch">{esc(_epoch_text(instance))}</span></p>'
            + (message(f"error: {instance.metadata.get('error')}", "error")
               if instance.metadata.get("error") else "")
            + f'<p>{link(url("/try", run=name), "Try it with your own images")} · '
            + f'{link(url("/compare", run=name), "Compare with other runs")}</p>')
    body = (head + _results(instance) + _curves(name) + _test_section(ctx, instance)
            + _hyperparameters(instance))
    return ctx.html(f"@{name}", body, active="runs")


def _epoch_text(instance):
    results = instance.results
    hyper = instance.hyperparameters
    done = results.get("epochs_done")
    total = (hyper.get("epochs") or 0) + (hyper.get("fine_tune_epochs") or 0)
    if done is None:
        return ""
    best = results.get("best_epoch")
    return f"epoch {done}" + (f" of {total}" if total else "") + (f", best {best}" if best else "")


def _results(instance):
    results = instance.results
    rows = [[esc(key), esc(format_cell(key, results[key]))] for key in RESULT_KEYS
            if results.get(key) is not None]
    labels = per_label_rows(instance)
    label_table = table(("label", "precision", "recall", "f1"),
                        [[esc(label)] + [esc(format_cell("x", v)) for v in values]
                         for label, *values in labels], caption="Per label (test split)") \
        if labels else ""
    return ('<section><h2>Results</h2><div class="side-by-side">'
            + (table(("result", "value"), rows, caption="Results") if rows
               else message("No results yet.")) + label_table + "</div></section>")


def _curves(name):
    images = "".join(
        f'<img class="chart" src="{esc(url(f"/run/{name}/curves.svg", metric=key))}" '
        f'alt="{esc(title.capitalize())} per epoch of @{esc(name)}, training and validation" '
        f'width="640" height="300" data-live>'
        for key, (title, _, _) in METRICS.items())
    return f'<section><h2>Learning curves</h2><div class="charts">{images}</div></section>'


def curves_svg(ctx, name, metric="acc"):
    """``GET /run/<name>/curves.svg?metric=acc|loss``: training and validation per epoch,
    the fine-tuning epochs after a marker."""
    if metric not in METRICS:
        metric = "acc"
    title, train_key, val_key = METRICS[metric]
    phases = history_series(ctx.runs.instance(name))
    series, markers = [], []
    for phase, rows in phases.items():
        dashed = phase != "top"
        if dashed:
            markers.append((rows[0]["epoch"] - 0.5, phase))
        for key, color in ((train_key, svg_charts.PALETTE[0]), (val_key, svg_charts.PALETTE[1])):
            points = [(r["epoch"], _number(r.get(key))) for r in rows]
            series.append(svg_charts.Series(f"{key} ({phase})", points, dashed=dashed, color=color))
    svg = svg_charts.line_chart(series, f"{title.capitalize()} per epoch", "epoch", title,
                                y_range=(0, 1) if metric == "acc" else None, markers=markers)
    return Response(svg, content_type=SVG)


def _number(value):
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def _test_section(ctx, instance):
    try:
        preds = ctx.runs.predictions(instance)
    except VergeMLError as err:
        return f'<section><h2>Test images</h2>{message(err.message)}</section>'
    matrix, predicted = confusion_counts(preds)
    wrong = int((predicted != preds.y_true).sum())
    name = instance.name
    wrong_link = link(url(f"/run/{name}/images", wrong=1), f"The {wrong} wrong test images, "
                      "most confident first") if wrong else "No test image is wrong."
    curves = "".join(f'<img class="chart" src="/run/{esc(name)}/{kind}.svg" alt="{esc(alt)} of '
                     f'@{esc(name)} on the test split" width="640" height="300">'
                     for kind, alt in (("roc", "ROC curves"), ("pr", "Precision-recall curves")))
    return (f'<section><h2>Test images</h2><p>{wrong_link}</p>'
            f'{_confusion_table(name, preds.labels, matrix)}'
            f'<div class="charts">{curves}</div></section>')


def _confusion_table(name, labels, matrix):
    """The confusion matrix: rows true, columns predicted, each count a link to its images."""
    head = "".join(f'<th scope="col">{esc(label)}</th>' for label in labels)
    body = []
    for t, label in enumerate(labels):
        total = max(1, int(matrix[t].sum()))
        cells = "".join(_confusion_cell(name, labels, t, p, int(matrix[t, p]), total)
                        for p in range(len(labels)))
        body.append(f'<tr><th scope="row">{esc(label)}</th>{cells}</tr>')
    return (f'<p>Rows are the true labels, columns the predicted ones; click a count to see '
            f'its images.</p><table class="confusion"><caption>Confusion matrix</caption>'
            f'<thead><tr><th scope="col">true \\ predicted</th>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _confusion_cell(name, labels, t, p, count, total):
    shade = f"--share:{count / total:.3f}"
    kind = "hit" if t == p else "miss"
    if not count:
        return f'<td class="{kind}" style="{shade}">0</td>'
    label = f"{count} images of {labels[t]} predicted as {labels[p]}"
    href = url(f"/run/{name}/images", true=t, pred=p)
    return (f'<td class="{kind}" style="{shade}"><a href="{esc(href)}" '
            f'aria-label="{esc(label)}">{count}</a></td>')


def curve_svg(ctx, name, kind):
    """``GET /run/<name>/roc.svg`` and ``pr.svg``: one curve per class (binary: the positive
    class), with the area in the legend."""
    from vergeml.plots.metrics import pr_curves, roc_curves
    preds = ctx.runs.predictions(ctx.runs.instance(name))
    roc = kind == "roc"
    try:
        curves, _, _ = (roc_curves if roc else pr_curves)(preds)
    except VergeMLError as err:
        svg = svg_charts.line_chart([], err.message, "", "")
        return Response(svg, content_type=SVG)
    series = [svg_charts.Series(f"{label} ({'AUC' if roc else 'AP'} {area:.3f})",
                                list(zip(x.tolist(), y.tolist())))
              for label, x, y, area in curves]
    title = "ROC curves" if roc else "Precision-recall curves"
    if len(series) == 1:  # one curve has no legend: its name goes in the title
        title = f"{title[:-1]} of {series[0].name}"
    svg = svg_charts.line_chart(series, title,
                                "false positive rate" if roc else "recall",
                                "true positive rate" if roc else "precision",
                                x_range=(0, 1), y_range=(0, 1), diagonal=roc)
    return Response(svg, content_type=SVG)


def _hyperparameters(instance):
    hyper = instance.hyperparameters
    rows = [[esc(key), esc(format_cell(key, hyper[key]))] for key in sorted(hyper)]
    return f'<section><h2>Hyperparameters</h2>{table(("option", "value"), rows)}</section>'


def status_json(ctx, name):
    """``GET /run/<name>/status``: what the page's live status shows."""
    instance = ctx.runs.instance(name)
    body = {"status": instance.status, "epoch_text": _epoch_text(instance),
            "epochs_done": instance.results.get("epochs_done")}
    return Response(json.dumps(body), content_type="application/json",
                    headers={"Cache-Control": "no-store"})
