"""``ml list``: compare training runs in a table, CSV or JSON.

Reads only each run's small ``data.yaml`` (via :mod:`vergeml.instances`) and
never imports TensorFlow, so it stays fast with thousands of runs. The table
logic is in :mod:`vergeml.instances.listing`.
"""
import sys

from vergeml.commands.command_base import NO_INSTANCE, Command
from vergeml.settings.option import Option

EMPTY_HINT = "no trainings yet: run ml train"
NO_MATCH_HINT = "no instances match the filters"


class ListCommand(Command):
    """List training runs with their hyperparameters and results."""

    name = "list"
    aliases = ("ls",)
    instance = NO_INSTANCE
    description = "List trained instances and compare their results."
    long_help = (
        "Shows one row per run in the trainings folder, newest first. Filter rows with\n"
        "KEY OP VALUE triples anywhere in the arguments, where OP is one of -gt -lt -eq\n"
        "-neq -gte -lte and KEY any stored hyperparameter or result (learning_rate and\n"
        "learning-rate are the same). Numbers compare numerically; a run without KEY is\n"
        "left out. Status is running, finished, stopped (an ASHA search stopped the\n"
        "trial early), cancelled, failed, crashed (process gone) or broken (unreadable\n"
        "metadata)."
    )
    examples = (
        "ml list",
        "ml list test_acc -gt 0.8",
        "ml list -s test_acc -o desc -c instance,learning_rate,dropout,val_acc",
        "ml list status -eq finished --output csv",
        "ml list --grid=g-3fa9c1",
    )
    options = (
        Option("sort", short="s", type="list", default=["training_start"], metavar="KEYS",
               help="Comma-separated keys to sort by, most significant first."),
        Option("order", short="o", choices=("asc", "desc"), default="desc",
               help="Sort order: desc (newest or largest first) or asc."),
        Option("columns", short="c", type="list", metavar="KEYS",
               help="Comma-separated columns: any hyperparameter or result key."),
        Option("output", choices=("table", "csv", "json"), default="table",
               aliases=("format",),
               help="Output format: table, csv or json (--format works too)."),
        Option("grid", metavar="ID",
               help="Only the runs of this grid (ml train with lists of values), best "
                    "test_acc first, with the values that vary."),
    )

    def preparse(self, tokens):
        """Take ``key -op value`` filter triples out before argparse runs."""
        from vergeml.instances.listing import extract_filters
        rest, filters = extract_filters(list(tokens))
        return rest, ({"filters": filters} if filters else {})

    def run(self, args, env):
        """Print the runs of ``env.trainings_dir``; always exit 0 unless misused."""
        # Imported here: ml help and the alias look-up import this module.
        from vergeml.instances import scan_instances
        from vergeml.instances.grid_listing import best_line, grid_columns, grid_rows
        from vergeml.instances.listing import (Row, default_columns, emit,
                                               instance_first, key_list, normalize_key)
        rows = [Row(i) for i in scan_instances(env.trainings_dir, summary=True)]
        grid = args.get("grid")
        if grid:
            rows = grid_rows(rows, grid)
        defaults = grid_columns(rows) if grid else default_columns(rows)
        columns = instance_first([normalize_key(c) for c in key_list(args.get("columns"), defaults)])
        if rows:
            rows = _select(rows, args)
        else:
            print(EMPTY_HINT, file=sys.stderr)
        output = args.get("output") or "table"
        emit(rows, columns, output)
        if grid and output == "table" and best_line(rows):
            print(best_line(rows), file=sys.stderr)
        return 0


def _select(rows, args):
    """Warn about unknown keys, then filter and sort the rows as ``args`` say.

    Args:
        rows: the :class:`Row` objects (not empty).
        args: the resolved options, with ``filters`` from :meth:`ListCommand.preparse`.

    Returns:
        The matching rows, sorted.
    """
    from vergeml.instances.grid_listing import best_first
    from vergeml.instances.listing import (key_list, matches, normalize_key,
                                           sort_instances, warn_unknown)
    filters = args.get("filters") or []
    warn_unknown([f[0] for f in filters], rows, "key")
    warn_unknown(key_list(args.get("columns")), rows, "column")
    warn_unknown(key_list(args.get("sort")), rows, "sort key")
    rows = [r for r in rows if all(matches(r, *f) for f in filters)]
    if not rows:
        print(NO_MATCH_HINT, file=sys.stderr)
    keys = [normalize_key(k) for k in key_list(args.get("sort"), ["training_start"])]
    if args.get("grid") and keys == ["training_start"]:  # a grid without -s: best first
        return best_first(rows)
    return sort_instances(rows, keys, descending=(args.get("order") or "desc") == "desc")
