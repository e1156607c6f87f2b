"""Running a grid (see :mod:`vergeml.grid.grid_plan`): one normal training run per combination.

Runs go one after another in this process and share the feature cache (the
cache is keyed by the backbone settings, not by the top's hyperparameters).
Each run records the grid id in its ``data.yaml`` from the start (top-level
``grid`` and ``grid_run``), so ``ml list --grid`` shows a run in progress too. Ctrl-C cancels the
current run (the run marks itself cancelled) and starts no further one. A run
that fails for a reason of its own (:class:`vergeml.errors.RunFailed`: its
loss diverged at a learning rate too high) is reported and the grid goes on.
"""
import logging
import math
import sys

from vergeml import faults
from vergeml.console import warn
from vergeml.errors import RunFailed
from vergeml.grid.grid_plan import axis_text, describe, new_grid_id, plan
from vergeml.instances import scan_instances
from vergeml.instances.grid_listing import GRID_KEY, RUN_KEY, best_first, grid_columns
from vergeml.instances.listing import Row, emit
from vergeml.settings.value_range import ValueRange


def run_grid(args, env, train, options):
    """Train every run of the grid ``args`` describes; exit status of the grid.

    Args:
        args: resolved train options, lists for the grid's axes.
        env: the :class:`vergeml.settings.environment.Environment`.
        train: ``train(args, env) -> status`` for one run (0, or 130 when cancelled).
        options: the command's declarations.

    Returns:
        0 when every run finished; the first non-zero status of a run (130:
        cancelled, the next runs not started); 1 when a run failed with
        :class:`RunFailed` and the others went on.
    """
    base, runs, grid_axes = plan(args, options, env.random_seed)
    if len(runs) == 1:  # a grid of one value per option is a normal run
        return train(run_args(args, base, runs[0]), env)
    grid_id = new_grid_id()
    order = list(grid_axes)
    total = len(runs)
    ranged = any(isinstance(v, ValueRange) for v in grid_axes.values())
    size = None if ranged else math.prod(len(v) for v in grid_axes.values())
    drawn = f" ({total} of {size} drawn with seed {env.random_seed})" if size and total < size \
        else (f" (drawn with seed {env.random_seed})" if ranged else "")
    print(f"Grid {grid_id}: {total} runs over "
          + ", ".join(f"{n} ({axis_text(v)})" for n, v in grid_axes.items()) + drawn, flush=True)
    failed = 0
    for number, combo in enumerate(runs, 1):
        print(f"Grid {grid_id} run {number}/{total}: {describe(combo, order)}", flush=True)
        faults.point("grid.run")
        try:
            status = train(run_args(args, base, combo), env,
                           metadata={GRID_KEY: grid_id, RUN_KEY: number})
        except RunFailed as error:  # this run's own failure: the other values may do well
            warn(f"grid run {number}/{total} failed: {error.message}")
            failed, status = failed + 1, 0
        if status:
            return status
        release_backend()
    summary(env.trainings_dir, grid_id)
    return 1 if failed else 0


def run_args(args, base, combo):
    """One run's options, in declaration order (the order of its stored hyperparameters)."""
    return {k: combo[k] if k in combo else base[k] for k in args if k in combo or k in base}


def release_backend():
    """Free the previous run's Keras graph so every run starts like a fresh process.

    Each run builds new models, so TensorFlow's "triggered tf.function retracing"
    warning is expected from the third run on: it is filtered out, nothing else.
    """
    if "keras" in sys.modules:
        import keras
        keras.backend.clear_session()
    tf_logger = logging.getLogger("tensorflow")
    if _no_retracing_warning not in tf_logger.filters:
        tf_logger.addFilter(_no_retracing_warning)


def _no_retracing_warning(record):
    return "triggered tf.function retracing" not in record.getMessage()


def summary(trainings_dir, grid_id):
    """The grid's runs, best first, and how to list them again."""
    rows = best_first([Row(i) for i in scan_instances(trainings_dir, summary=True)
                       if i.metadata.get(GRID_KEY) == grid_id])
    print(f"\nGrid {grid_id} done: {len(rows)} runs, best first "
          f"(ml list --grid={grid_id} shows them again)")
    emit(rows, grid_columns(rows), "table")
