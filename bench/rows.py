"""One row of the ``make bench`` table.

Every benchmark measures a baseline in the same run and reports each figure
through :func:`emit`: it prints the row, and when ``BENCH_ROWS`` names a file
(``bench/run.sh`` sets it), appends the row there as one JSON line, so that
``bench/table.py`` prints all of them as one table at the end.
"""
import json
import os


def emit(figure, ours, baseline, unit, target=None, higher_is_better=True, note=""):
    """Print and record one figure against its same-run baseline.

    Args:
        figure: what is measured, e.g. ``"extraction, 1000 JPEG photos, MobileNet TF"``.
        ours: this project's value (in ``unit``).
        baseline: the baseline's value, measured in the same run (same unit), with
            what it is in ``note`` (e.g. ``"plain loop"``).
        unit: e.g. ``"img/s"`` or ``"ms"``.
        target: the ratio to reach (``ours / baseline``), or None.
        higher_is_better: whether a ratio above ``target`` meets it (else below).
        note: the baseline's name and anything needed to read the row.

    Returns:
        The row as a dict (``ratio``, ``met``: True/False/None).
    """
    ratio = ours / baseline if baseline else float("nan")
    met = None if target is None else (ratio >= target if higher_is_better else ratio <= target)
    row = {"figure": figure, "ours": ours, "baseline": baseline, "unit": unit, "ratio": ratio,
           "target": target, "higher_is_better": higher_is_better, "met": met, "note": note,
           "load": os.getloadavg()[0]}
    want = "" if target is None else f" (target {'>=' if higher_is_better else '<='} {target:g}x:" \
        f" {'met' if met else 'NOT met'})"
    print(f"  {figure}: {ours:.4g} {unit} vs {baseline:.4g} {unit} {note} = {ratio:.2f}x{want}")
    path = os.environ.get("BENCH_ROWS")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
    return row
