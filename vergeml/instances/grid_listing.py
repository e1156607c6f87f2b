"""``ml list --grid=ID``: the runs of one grid, best first, with the values that vary.

A run of a grid has the top-level keys ``grid`` (the id) and ``grid_run``
(its 1-based position) in ``data.yaml``, written by :mod:`vergeml.grid.grid_runner`.
"""
from vergeml.errors import UsageError
from vergeml.instances.listing import GRID_COLUMN as GRID_KEY, format_cell, sort_instances
from vergeml.settings.suggest import suggestion

RUN_KEY = "grid_run"
# Best first: by test accuracy, then (no test split) validation accuracy.
BEST_KEYS = ("test_acc", "val_acc")
RESULT_COLUMNS = ("status", "epoch", "val_acc", "test_acc", "test_loss")


def grid_rows(rows, grid_id):
    """The rows of the grid ``grid_id``.

    Raises:
        UsageError: no run belongs to that grid (with the closest known id).
    """
    chosen = [r for r in rows if r.metadata.get(GRID_KEY) == grid_id]
    if not chosen:
        known = sorted({str(r.metadata[GRID_KEY]) for r in rows if r.metadata.get(GRID_KEY)})
        hint = suggestion(grid_id, known) or \
            (f" Known grids: {', '.join(known)}." if known else " No grid has been trained.")
        raise UsageError(f"no runs of grid '{grid_id}'.{hint}")
    return chosen


def varying_keys(rows):
    """Hyperparameters whose values differ between ``rows``, in stored order."""
    keys = []
    for row in rows:
        keys += [k for k in row.hyperparameters if k not in keys]
    return [k for k in keys
            if len({format_cell(k, r.hyperparameters.get(k)) for r in rows}) > 1]


def grid_columns(rows):
    """``instance``, ``grid``, the varying hyperparameters, then the results."""
    return ["instance", GRID_KEY, *varying_keys(rows), *RESULT_COLUMNS]


def best_first(rows):
    """``rows`` sorted by :data:`BEST_KEYS`, largest first (runs without them last)."""
    return sort_instances(rows, list(BEST_KEYS), descending=True)


def best_line(rows):
    """``Best: @name (test_acc 0.912)``, or None when no run has a result yet."""
    for key in BEST_KEYS:
        scored = [r for r in rows if isinstance(r.get(key), (int, float))]
        if scored:
            best = max(scored, key=lambda r: r.get(key))
            return f"Best: @{best.name} ({key} {format_cell(key, best.get(key))})"
    return None
