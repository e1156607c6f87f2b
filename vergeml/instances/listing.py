"""The ``ml list`` table: columns, cell values, filters, sorting and rendering.

Works on :class:`Row` objects made from instances read as summaries (see
:func:`vergeml.instances.scan_instances`); :mod:`vergeml.commands.list` only
maps the command's options onto these functions. Never imports TensorFlow.
"""
import csv
import datetime
import functools
import json
import math
import sys

from vergeml.console import warn
from vergeml.errors import UsageError
from vergeml.instances.instance import CANCELLED
from vergeml.instances.model_column import COLUMN as MODEL_COLUMN, loose, model_value
from vergeml.instances.table_render import github_columns
from vergeml.settings.spelling import stored_key
from vergeml.settings.suggest import suggestion

DEFAULT_COLUMNS = ("instance", "model", "status", "training_start", "epoch", "batch",
                   "test_acc", "test_loss")

# Shown after the defaults when a listed run has it: how its checkpoint was chosen
# when not by validation (``last-epoch (no validation split)``, from --val-split=0).
# frozen (top on cached features only) or fine-tuned (phase 2 ran): results.tuned
TUNED_COLUMN = "tuned"
SELECTION_COLUMN = "selection"
GRID_COLUMN = "grid"  # the grid id of runs trained by a grid (vergeml.grid.grid_runner)
BALANCED_COLUMN = "balanced_acc"  # shown when a run trained with class weights
# Shown when any listed run has them: calibration and the share of its own test
# images it would reject as unknown (runs trained before these were measured have none).
TRUST_COLUMNS = ("test_ece", "test_rejected")

# Column names that are not stored under the same key.
_ALIASES = {"epoch": "epochs_done", "batch": "batch_size", "name": "instance",
            "backbone": "model", "architecture_name": "model"}
_TIME_KEYS = ("training_start", "training_end", "created_at")
_OPERATORS = {
    "-gt": lambda a, b: a > b, "-lt": lambda a, b: a < b,
    "-gte": lambda a, b: a >= b, "-lte": lambda a, b: a <= b,
    "-eq": lambda a, b: a == b, "-neq": lambda a, b: a != b,
}
_MISSING = object()
_UNSET = object()  # not looked up yet (Row.get)


@functools.lru_cache(maxsize=4096)  # filters ask once per row
def normalize_key(key):
    """Column spelling of a user-typed key: lower case, underscores."""
    return stored_key(key)


@functools.lru_cache(maxsize=4096)  # called per cell: 11 columns x thousands of rows
def _stored_key(key):
    """Key under which a column is stored (``epoch`` -> ``epochs_done``)."""
    key = normalize_key(key)
    return _ALIASES.get(key, key)


def default_columns(rows):
    """The columns without ``--columns``: :data:`DEFAULT_COLUMNS` (the original's), plus
    :data:`TUNED_COLUMN` when any of ``rows`` was fine-tuned and :data:`SELECTION_COLUMN`
    when any has that result, :data:`BALANCED_COLUMN` when any trained with class weights,
    each of :data:`TRUST_COLUMNS` that any has, and :data:`GRID_COLUMN` when any ran in a
    grid, so a project of plain runs shows the original table."""
    tuned = any(row.get(TUNED_COLUMN) == "fine-tuned" for row in rows)
    balanced = any(isinstance(row.get("class_weights"), dict) or row.get("class_weights") == "adjusted"
                   for row in rows)
    selection = any(row.get(SELECTION_COLUMN) is not _MISSING for row in rows)
    grid = any(row.get(GRID_COLUMN) is not _MISSING for row in rows)
    trust = tuple(c for c in TRUST_COLUMNS if any(row.get(c) is not _MISSING for row in rows))
    return DEFAULT_COLUMNS + ((TUNED_COLUMN,) if tuned else ()) \
        + ((SELECTION_COLUMN,) if selection else ()) + ((BALANCED_COLUMN,) if balanced else ()) \
        + trust + ((GRID_COLUMN,) if grid else ())


# -- values ------------------------------------------------------------------------

class Row:
    """One instance as a table row: status computed once, cell values memoized."""

    __slots__ = ("name", "metadata", "results", "hyperparameters", "status", "_values")

    def __init__(self, instance):
        self.name = instance.name
        self.metadata = instance.metadata
        self.results = instance.results
        self.hyperparameters = instance.hyperparameters
        self.status = instance.status  # may probe a pid: do it once
        self._values = {}

    def get(self, key):
        """Raw value of a column (``_MISSING`` when absent)."""
        value = self._values.get(key, _UNSET)
        if value is _UNSET:
            value = self._values[key] = value_of(self, key)
        return value


def value_of(instance, key):
    """The raw value of a column for one instance.

    Results win over hyperparameters (the original let hyperparameters
    overwrite same-named results). A cancelled run's test metrics are blank.

    Args:
        instance: a :class:`vergeml.instances.Instance` or :class:`Row`.
        key: a normalized key (see :func:`normalize_key`).

    Returns:
        The value, or ``_MISSING``.
    """
    key = _stored_key(key)
    if key == "instance":
        return instance.name
    if key == MODEL_COLUMN:
        return model_value(instance, _MISSING)
    if key == "status":
        return instance.status or _MISSING
    if key.startswith("test_") and instance.status == CANCELLED:
        return _MISSING
    value = instance.results.get(key)
    if value is None:
        value = instance.hyperparameters.get(key)
    if value is not None:
        return value
    value = instance.metadata.get(key)
    if value is None or isinstance(value, (dict, list)):
        return _MISSING
    return value


def _timestamp(value):
    """Epoch seconds of a stored time (ISO text, datetime or number); None if unparsable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return _text_timestamp(value)
    return _datetime_timestamp(value)


@functools.lru_cache(maxsize=65536)  # sorting and then formatting ask twice per row
def _text_timestamp(value):
    """:func:`_timestamp` of ISO text."""
    try:
        value = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return _datetime_timestamp(value)


def _datetime_timestamp(value):
    """:func:`_timestamp` of a datetime (naive means UTC); None for anything else."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:  # stored times are UTC
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    return None


def _float_text(value):
    """3 decimals, but never a learning rate of 0.0001 as 0.000, nor a diverging
    one (1e300) as a 300-digit number."""
    return f"{value:.3g}" if 0 < abs(value) < 0.01 or abs(value) >= 1e6 else f"{value:.3f}"


def format_cell(key, value):
    """Text shown in the table for a raw value ('' when missing)."""
    if key not in _TIME_KEYS:  # the common cells first (thousands per table), same results
        kind = type(value)
        if kind is str:
            return value
        if kind is float:
            return _float_text(value)
        if kind is int:
            return str(value)
    if value is _MISSING or value is None:
        return ""
    if key in _TIME_KEYS:
        stamp = _timestamp(value)
        if stamp is not None:
            return _minute_text(datetime.datetime.fromtimestamp(stamp))
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _minute_text(moment):
    """``moment.strftime("%Y-%m-%d %H:%M")``, 3x faster (once per row and time column)."""
    if moment.year < 1000:  # strftime's %Y does not pad to 4 digits on every platform
        return moment.strftime("%Y-%m-%d %H:%M")
    return f"{moment.year}-{moment.month:02d}-{moment.day:02d} {moment.hour:02d}:{moment.minute:02d}"


def _machine_value(value):
    """Value for JSON/CSV: raw and full precision; None when missing or not finite."""
    if value is _MISSING:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


# -- filters -----------------------------------------------------------------------

def extract_filters(tokens):
    """Pull ``key -op value`` triples out of the argument list.

    Args:
        tokens: command-line tokens after ``list``.

    Returns:
        ``(remaining tokens, [(key, op, value), ...])``.

    Raises:
        UsageError: an operator without a key before it or a value after it.
    """
    rest, filters, i = [], [], 0
    while i < len(tokens):
        token = tokens[i]
        if token.lower() in _OPERATORS:
            key = rest.pop() if rest else None
            if key is None or key.startswith("-") or i + 1 >= len(tokens):
                raise UsageError(f"filter {token} needs a key before it and a value after it, "
                                 "e.g. test_acc -gt 0.8.", hint="See 'ml help list'.")
            filters.append((key, token.lower(), tokens[i + 1]))
            i += 2
        else:
            rest.append(token)
            i += 1
    return rest, filters


def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def matches(instance, key, op, operand):
    """Whether a :class:`Row` passes one filter (rows lacking the key never do)."""
    value = instance.get(normalize_key(key))
    if value is _MISSING:
        return False
    left, right = _number(value), _number(operand)
    if _stored_key(key) == MODEL_COLUMN:  # resnet-50 and resnet50 are the same architecture
        left, right = loose(format_cell(MODEL_COLUMN, value)), loose(operand)
    elif left is None or right is None or isinstance(value, str):
        # Text comparison, case-insensitive: 'status -eq Finished' works.
        left, right = format_cell(normalize_key(key), value).lower(), str(operand).lower()
    try:
        return _OPERATORS[op](left, right)
    except TypeError:
        return False


# -- sorting -----------------------------------------------------------------------

def _sort_value(instance, key):
    """Comparable key: numbers before text, so mixed types never raise."""
    value = instance.get(key)
    if value is _MISSING:
        return None
    if key in _TIME_KEYS:
        stamp = _timestamp(value)
        if stamp is not None:
            return (0, stamp, "")
    number = _number(value) if not isinstance(value, str) else None
    if number is not None:
        return (0, number, "")
    return (1, 0, format_cell(key, value).lower())


def sort_instances(instances, keys, descending):
    """Sort by several keys; rows missing a key go last in either order.

    Args:
        instances: the :class:`Row` objects.
        keys: normalized keys, most significant first.
        descending: newest/largest first.

    Returns:
        A new sorted list.
    """
    rows = list(instances)
    for key in reversed(keys):  # stable sorts, least significant key first
        decorated = [(_sort_value(inst, key), inst) for inst in rows]
        present = [d for d in decorated if d[0] is not None]
        missing = [d[1] for d in decorated if d[0] is None]
        present.sort(key=lambda d: d[0], reverse=descending)
        rows = [d[1] for d in present] + missing
    return rows


# -- rendering ---------------------------------------------------------------------

def render_table(instances, columns):
    """A GitHub-style table as tabulate prints it, numeric columns right-aligned."""
    raw = [[inst.get(c) for inst in instances] for c in columns]
    cells = [[format_cell(c, v) for v in values] for c, values in zip(columns, raw)]
    align = [_column_align(c, values) for c, values in zip(columns, raw)]
    return github_columns(list(columns), cells, align)


def _column_align(column, values):
    """``right`` for a column of numbers (times excepted), else ``left``."""
    values = [v for v in values if v is not _MISSING and v is not None]
    numeric = values and all(_number(v) is not None and not isinstance(v, str) for v in values)
    return "right" if numeric and column not in _TIME_KEYS else "left"


def render_csv(instances, columns, stream):
    """CSV with a header row; every row has every column."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(columns)
    for inst in instances:
        row = []
        for column in columns:
            value = _machine_value(inst.get(column))
            row.append("" if value is None else _csv_cell(value))
        writer.writerow(row)


def _csv_cell(value):
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return value


def render_json(instances, columns):
    """A JSON array of objects, one key per column (null when missing)."""
    rows = [{c: _machine_value(inst.get(c)) for c in columns} for inst in instances]
    return json.dumps(rows, indent=2, default=str)


def emit(instances, columns, output):
    """Print the rows on stdout in one of the output formats.

    Args:
        instances: the :class:`Row` objects, in order.
        columns: normalized column keys.
        output: ``table`` (nothing printed when there are no rows), ``csv``
            (header only when empty) or ``json``.
    """
    if output == "csv":
        render_csv(instances, columns, sys.stdout)
    elif output == "json":
        print(render_json(instances, columns))
    elif instances:
        print(render_table(instances, columns))


# -- option values -----------------------------------------------------------------

def key_list(value, default=()):
    """Keys from a ``--columns``/``--sort`` value.

    Args:
        value: comma-separated text, a list, or None.
        default: the keys when ``value`` is None.

    Returns:
        list of str, blanks dropped.
    """
    if value is None:
        return list(default)
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def instance_first(columns):
    """The columns with ``instance`` first, so every row can be told apart.

    Args:
        columns: normalized column keys (``-c`` or the defaults).

    Returns:
        ``instance`` followed by the other columns in their order; ``instance``
        (or its alias ``name``) given elsewhere is moved, not repeated.
    """
    return ["instance"] + [c for c in columns if _stored_key(c) != "instance"]


def warn_unknown(keys, instances, what):
    """Warn about a key no instance has (likely a typo), with did-you-mean.

    Args:
        keys: keys as the user typed them.
        instances: the :class:`Row` objects (no warning when empty).
        what: the kind of key for the message (``sort key``).
    """
    if not instances or not keys:  # nothing to check: skip collecting every run's keys
        return
    known = set(DEFAULT_COLUMNS)
    for inst in instances:
        known.update(inst.results, inst.hyperparameters, inst.metadata)
    for key in keys:
        if _stored_key(key) not in known and normalize_key(key) not in known:
            hint = suggestion(normalize_key(key), sorted(known))
            warn(f"no instance has {what} '{key}'.{hint}")
