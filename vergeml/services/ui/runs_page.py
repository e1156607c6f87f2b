"""The runs: the ``ml list`` table (same columns, filters and sorting, by
:mod:`vergeml.instances.listing`), grids grouped, paginated; and the comparison
of two or more runs: learning curves overlaid and hyperparameters side by side.
"""
import shlex

from werkzeug.wrappers import Response

from vergeml.errors import UsageError, VergeMLError
from vergeml.instances import scan_instances
from vergeml.instances.listing import (GRID_COLUMN, Row, default_columns, extract_filters,
                                       format_cell, instance_first, key_list, matches,
                                       normalize_key, sort_instances)
from vergeml.services.ui import svg_charts
from vergeml.services.ui.page_shell import (esc, link, message, page_number, page_slice,
                                            pager, table, url)
from vergeml.services.ui.run_reading import history_series
from vergeml.services.ui.ui_context import PageError

STATUSES = ("running", "finished", "stopped", "cancelled", "failed", "crashed", "broken")
RUNS_PER_PAGE = 50
MAX_COMPARED = 12


def runs_page(ctx, request):
    """``GET /``: ``?q=`` filters as ``ml list`` takes them (``test_acc -gt 0.8``, other
    words match the name), ``status``, ``sort``, ``desc``, ``page``."""
    args = request.args
    rows = [Row(i) for i in scan_instances(ctx.trainings_dir, warn=False, summary=True)]
    columns = instance_first([normalize_key(c) for c in key_list(args.get("columns"),
                                                                 default_columns(rows))])
    note = ""
    try:
        rows = _filtered(rows, args.get("q", ""), args.get("status", ""))
    except (UsageError, ValueError) as err:
        note = message(f"filter not understood: {getattr(err, 'message', err)}", "error")
    sort = normalize_key(args.get("sort") or "training_start")
    descending = args.get("desc", "1") != "0"
    rows = _grouped(sort_instances(rows, [sort], descending))
    shown, number = page_slice(rows, page_number(args), RUNS_PER_PAGE)
    query = {k: args.get(k) for k in ("q", "status", "sort", "desc", "columns") if args.get(k)}
    body = (_filter_form(args) + note
            + (_runs_table(shown, columns, sort, descending, query) if shown
               else message("No runs match." if query else "No runs yet: train one with ml train."))
            + pager("/", number, len(rows), RUNS_PER_PAGE, **query))
    return ctx.html("Runs", body, active="runs")


def _filtered(rows, text, status):
    words, filters = extract_filters(shlex.split(text))
    words = [w.lower() for w in words]
    return [r for r in rows
            if (not status or r.status == status)
            and all(w in r.name.lower() for w in words)
            and all(matches(r, *f) for f in filters)]


def _grouped(rows):
    """The runs of each grid together, where its best-placed run stands."""
    order, groups = [], {}
    for row in rows:
        grid = row.metadata.get(GRID_COLUMN)
        key = grid if grid else id(row)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(row)
    return [row for key in order for row in groups[key]]


def _filter_form(args):
    options = "".join(f'<option value="{s}"{" selected" if args.get("status") == s else ""}>'
                      f'{s or "any"}</option>' for s in ("",) + STATUSES)
    return ('<form class="filters" method="get" action="/" role="search">'
            '<label>Filter <input name="q" size="40" placeholder="test_acc -gt 0.8" '
            f'value="{esc(args.get("q", ""))}"></label> <label>Status <select name="status">'
            f'{options}</select></label> <button type="submit">Apply</button></form>')


def _runs_table(rows, columns, sort, descending, query):
    heads = "".join(_sort_header(c, sort, descending, query) for c in columns)
    body, grid = [], None
    for row in rows:
        row_grid = row.metadata.get(GRID_COLUMN)
        if row_grid and row_grid != grid:
            body.append(f'<tr class="group"><th colspan="{len(columns) + 1}" scope="rowgroup">'
                        f'grid {esc(row_grid)} · '
                        f'{link(url("/compare", grid=row_grid), "compare its runs")}</th></tr>')
        grid = row_grid
        cells = "".join(f"<td>{_cell(row, c)}</td>" for c in columns)
        body.append(f'<tr><td><input type="checkbox" name="run" value="{esc(row.name)}" '
                    f'aria-label="select {esc(row.name)} to compare"></td>{cells}</tr>')
    return ('<form method="get" action="/compare"><table class="runs"><thead><tr>'
            '<th scope="col"><span class="sr-only">select</span></th>'
            f'{heads}</tr></thead><tbody>{"".join(body)}</tbody></table>'
            '<button type="submit">Compare the selected runs</button></form>')


def _sort_header(column, sort, descending, query):
    now = column == sort
    arrow = (" ▼" if descending else " ▲") if now else ""
    href = url("/", **{**query, "sort": column, "desc": "0" if now and descending else "1"})
    aria = f' aria-sort="{"descending" if descending else "ascending"}"' if now else ""
    return f'<th scope="col"{aria}><a href="{esc(href)}">{esc(column)}{arrow}</a></th>'


def _cell(row, column):
    text = format_cell(column, row.get(column))
    if column == "instance":
        return link(f"/run/{row.name}", text)
    if column == "status":
        return f'<span class="status {esc(text)}">{esc(text)}</span>'
    return esc(text)


def compare_page(ctx, request):
    """``GET /compare?run=a&run=b`` or ``?grid=ID``."""
    instances = _compared(ctx, request)
    names = [i.name for i in instances]
    charts = "".join(
        f'<img class="chart" src="{esc(url("/compare/curves.svg", run=names, metric=m))}" '
        f'alt="validation {esc(t)} per epoch of {esc(", ".join(names))}" width="640" height="300">'
        for m, t in (("val_acc", "accuracy"), ("val_loss", "loss")))
    body = (f'<p>{len(names)} runs; the fine-tuning epochs of a run are dashed.</p>'
            f'<div class="charts">{charts}</div>'
            + _side_by_side("Results", instances, lambda i: i.results)
            + _side_by_side("Hyperparameters", instances, lambda i: i.hyperparameters))
    return ctx.html("Compare runs", body, active="runs")


def _compared(ctx, request):
    grid = request.args.get("grid")
    if grid:
        names = [i.name for i in scan_instances(ctx.trainings_dir, warn=False, summary=True)
                 if i.metadata.get(GRID_COLUMN) == grid]
    else:
        names = list(dict.fromkeys(request.args.getlist("run")))
    if len(names) < 2:
        raise PageError(400, "select two or more runs to compare (the boxes on the runs page)")
    try:
        return [ctx.runs.instance(n) for n in names[:MAX_COMPARED]]
    except VergeMLError as err:
        raise PageError(404, err.message) from None


def _side_by_side(title, instances, values):
    maps = [values(i) for i in instances]
    keys = sorted({k for m in maps for k in m})
    rows, classes = [], []
    for key in keys:
        cells = [format_cell(key, m.get(key)) for m in maps]
        rows.append([esc(key)] + [esc(c) for c in cells])
        classes.append("differs" if len(set(cells)) > 1 else None)
    return (f'<section><h2>{esc(title)}</h2>'
            + table(["key"] + [f"@{i.name}" for i in instances], rows,
                    caption="Rows that differ are highlighted", classes=classes) + "</section>")


def compare_svg(ctx, request):
    """``GET /compare/curves.svg?run=a&run=b&metric=val_acc``: one colour per run."""
    metric = request.args.get("metric") if request.args.get("metric") in (
        "val_acc", "val_loss", "acc", "loss") else "val_acc"
    series = []
    for index, instance in enumerate(_compared(ctx, request)):
        color = svg_charts.PALETTE[index % len(svg_charts.PALETTE)]
        for phase, rows in history_series(instance).items():
            points = [(r["epoch"], r.get(metric)) for r in rows]
            series.append(svg_charts.Series(f"@{instance.name} {phase}", points,
                                            dashed=phase != "top", color=color))
    svg = svg_charts.line_chart(series, f"{metric} per epoch", "epoch", metric,
                                y_range=(0, 1) if metric.endswith("acc") else None)
    return Response(svg, content_type="image/svg+xml")
