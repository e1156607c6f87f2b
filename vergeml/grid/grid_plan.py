"""Hyperparameter grids: ``ml train --learning-rate=0.001,0.01 --dropout=0.2,0.5``.

A numeric or choice option given several values (a comma list on the command
line, a YAML list in the project file; see :meth:`vergeml.settings.option.Option.parse_values`)
is an *axis*. The runs of a grid are the Cartesian product of its axes,
ordered by option name with the last name varying fastest (Guild AI's rule),
so the order does not depend on how or where the values were typed.
``--grid-random=N`` trains N distinct combinations drawn with ``--random-seed``
instead. ``--search=random --trials=N`` draws N runs from lists and from ranges
(``--learning-rate=1e-4..0.1``, :mod:`vergeml.settings.value_range`);
``--search=asha`` trains the same draws on Ray Tune, stopping weak ones early
(:mod:`vergeml.grid.tune_runner`). A grid of more than :data:`MAX_RUNS` runs is refused (a typo such as
``--epochs=1,...,12`` on five options would ask for hundreds of thousands);
``--grid-random`` draws from any size without listing every combination.
Pure Python: the runner is :mod:`vergeml.grid.grid_runner`.
"""
import itertools
import math

from vergeml.errors import UsageError
from vergeml.settings.option import Option
from vergeml.settings.value_range import ValueRange

SEARCHES = ("grid", "random", "asha")
GRID_OPTIONS = (
    Option("grid-random", type="int", rule=">0", metavar="N",
           help="Train only N combinations of a grid, drawn without replacement "
                "(the same runs for the same --random-seed)."),
    Option("search", choices=SEARCHES, default="grid",
           help="How the runs of several values are chosen: grid (every combination), random "
                "(--trials=N drawn from the lists and ranges such as --learning-rate=1e-4..0.1) "
                "or asha (as random, on Ray Tune, weak trials stopped early; docs/ray.md)."),
    Option("trials", type="int", rule=">0", metavar="N",
           help="How many runs --search=random or asha draws (asha without ranges: the whole "
                "grid when not given)."),
)
GRID_OPTION_NAMES = tuple(o.name for o in GRID_OPTIONS)
MAX_RUNS = 1000
# Options that make no sense once per combination.
SINGLE_RUN_OPTIONS = {"name": "each run of a grid gets its own robot name",
                      "resume": "resume the runs of a grid one by one with ml @NAME resume"}


def axes(args, options):
    """The options of ``args`` that hold several values, in declaration order.

    Args:
        args: resolved options; a grid option's value is a list of two or more values.
        options: the command's :class:`vergeml.settings.option.Option` declarations.

    Returns:
        dict of canonical name to the list of its values, or its
        :class:`~vergeml.settings.value_range.ValueRange`.
    """
    found = {}
    for option in options:
        value = args.get(option.name)
        if option.in_grid and isinstance(value, (list, tuple)):
            found[option.name] = list(value)
        elif isinstance(value, ValueRange):
            found[option.name] = value
    return found


def combinations(grid_axes):
    """Every combination of the axes: axes sorted by name, the last varying fastest.

    Args:
        grid_axes: dict of option name to its values (see :func:`axes`).

    Returns:
        list of dicts of option name to one value; ``[{}]`` without axes.
    """
    names = sorted(grid_axes)
    return [dict(zip(names, values))
            for values in itertools.product(*(grid_axes[n] for n in names))]


def sample(combos, count, seed):
    """``count`` distinct combinations drawn with ``seed``, kept in grid order.

    Args:
        combos: the list from :func:`combinations`.
        count: how many to keep (all of them when ``count`` is None or not smaller).
        seed: the random seed (``--random-seed``); the same seed draws the same runs.
    """
    return [combos[i] for i in _drawn(len(combos), count, seed)]


def _drawn(total, count, seed):
    """Indices of the runs :func:`sample` keeps, without listing the others."""
    if count is None or count >= total:
        return range(total)
    import random
    return sorted(random.Random(seed).sample(range(total), count))


def _combination(grid_axes, index):
    """The ``index``-th entry of :func:`combinations`, computed directly."""
    combo = {}
    for name in sorted(grid_axes, reverse=True):  # the last name varies fastest
        index, position = divmod(index, len(grid_axes[name]))
        combo[name] = grid_axes[name][position]
    return {name: combo[name] for name in sorted(combo)}


def plan(args, options, seed):
    """The runs a ``train`` command line asks for.

    Args:
        args: the resolved options, grid options included.
        options: the command's declarations.
        seed: ``--random-seed``, for ``--grid-random``.

    Returns:
        ``(base, runs, grid_axes)``: the options every run shares (grid options
        removed), one dict of the varying values per run, and the axes.

    Raises:
        UsageError: ``--name`` or ``--resume`` with a grid of several runs.
    """
    grid_axes = axes(args, options)
    base = {k: v for k, v in args.items() if k not in GRID_OPTION_NAMES and k not in grid_axes}
    ranged = [name for name, values in grid_axes.items() if isinstance(values, ValueRange)]
    count = _check_search(args, ranged)
    if ranged:
        runs = _draws(grid_axes, count, seed)
    else:
        total = math.prod(len(values) for values in grid_axes.values())
        if min(total, count or total) > MAX_RUNS:
            raise UsageError(f"a grid of {total:,} runs is more than {MAX_RUNS:,}",
                             hint="Give fewer values, or draw some runs with --trials=N.")
        runs = [_combination(grid_axes, i) for i in _drawn(total, count, seed)]
    if len(runs) > 1:
        for name, why in SINGLE_RUN_OPTIONS.items():
            if args.get(name) is not None:
                raise UsageError(f"--{name} cannot be used with a grid: {why}",
                                 hint="See 'ml help train'.")
    return base, runs, grid_axes


def _check_search(args, ranged):
    """How many runs to draw (None: every combination), after checking that the search
    options fit together.

    Raises:
        UsageError: a range in a plain grid, a search of ranges without ``--trials``, or
            more trials than :data:`MAX_RUNS`.
    """
    search, trials = args.get("search") or "grid", args.get("trials")
    if search == "grid" and ranged:
        raise UsageError(f"--{ranged[0]}={args[ranged[0]]} is a range: a grid needs lists of "
                         "values", hint="Draw from it with --search=random --trials=N (or asha).")
    if search == "grid" and trials:
        raise UsageError("--trials counts the runs of a search: add --search=random or asha",
                         hint="--grid-random=N draws N runs of a grid.")
    if ranged and not trials:
        raise UsageError(f"--search={search} draws from the range of --{ranged[0]}: say how many "
                         "runs with --trials=N")
    count = trials or args.get("grid-random")
    if count and count > MAX_RUNS:
        raise UsageError(f"{count:,} trials are more than {MAX_RUNS:,}")
    return count


def _draws(grid_axes, count, seed):
    """``count`` runs drawn with ``seed``: a value of each list, a draw from each range."""
    import random
    rng = random.Random(seed)
    names = sorted(grid_axes)
    return [{name: grid_axes[name].draw(rng) if isinstance(grid_axes[name], ValueRange)
             else rng.choice(grid_axes[name]) for name in names} for _ in range(count)]


def axis_text(values):
    """An axis as the grid's first line says it: ``3 values`` or ``range 0.0001..0.1, log``."""
    if isinstance(values, ValueRange):
        return f"range {values}" + (", log scale" if values.log else "")
    return f"{len(values)} values"


def describe(combo, order):
    """``learning-rate=0.01 dropout=0.2``: a run's values, in ``order``."""
    return " ".join(f"{name}={_text(combo[name])}" for name in order if name in combo)


def _text(value):
    return str(value).lower() if isinstance(value, bool) else str(value)


def new_grid_id():
    """A fresh grid id such as ``g-3fa9c1``."""
    import secrets
    return "g-" + secrets.token_hex(3)
