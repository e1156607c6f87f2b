"""The option declaration: the single source of truth for every setting.

An :class:`Option` names a setting once (name, type, default, constraint,
help). The same object drives the command-line parser (:mod:`vergeml.cli.main`),
validation of ``vergeml.yaml`` (:mod:`vergeml.settings.project_settings`), ``ml help`` and the
option tables in ``docs/``. Constraints are data, and error messages are
generated from them, so a rule and its message can never disagree.
"""
import math
import re
from dataclasses import dataclass

from vergeml.settings.spelling import stored_key
from vergeml.settings.suggest import suggestion
from vergeml.settings.value_range import ValueRange, split_range

_TRUE = {"y", "yes", "on", "true", "1"}
_FALSE = {"n", "no", "off", "false", "0"}
_RULE = re.compile(r"^\s*(>=|<=|>|<)\s*(-?[0-9.]+)\s*$")
_RANGE = re.compile(r"^\s*(-?[0-9.]+)\s*\.\.\s*(-?[0-9.]+)\s*$")


def first_set(*values):
    """The first value that is not None: precedence written once.

    Args:
        *values: candidates from the strongest source to the weakest (command
            line, project file, default).
    """
    return next((value for value in values if value is not None), None)


class OptionValueError(ValueError):
    """A value does not satisfy an option's declaration."""


@dataclass(frozen=True)
class Option:
    r"""Declaration of one setting.

    Args:
        name: canonical hyphenated name, e.g. ``learning-rate``.
        default: value used when neither the command line nor the project
            file sets it.
        type: ``int``, ``float``, ``str``, ``bool``, ``list`` (a comma
            separated string on the command line, a list in YAML) or
            ``dict`` (YAML only).
        help: one line: what the option means.
        choices: allowed values, if the option is an enumeration.
        rule: numeric constraint: ``>0``, ``>=0``, ``<1``, ``<=1`` or a
            closed range ``0..1``.
        also: literal strings accepted besides the type (``auto``).
        pattern: ``(regex, description)`` a string value must match in full,
            e.g. ``(r"cpu|gpu(:\d+)?", "cpu, gpu or gpu:N")``.
        short: one-letter short flag, without the dash.
        flag: a boolean switch that takes no value on the command line.
        positional: a positional argument instead of ``--name``.
        nargs: for positionals, ``?``, ``*`` or ``+``.
        metavar: placeholder shown in usage lines.
        yaml: whether the project file may set it.
        required: whether a value must be given somewhere.
        aliases: other accepted names (``format`` for ``output``).
    """

    name: str
    default: object = None
    type: str = "str"
    help: str = ""
    choices: tuple = ()
    rule: str = ""
    also: tuple = ()
    pattern: tuple = ()
    short: str = ""
    flag: bool = False
    positional: bool = False
    nargs: str = ""
    metavar: str = ""
    yaml: bool = True
    required: bool = False
    aliases: tuple = ()

    @property
    def dest(self):
        """Python identifier form of the name (``learning_rate``)."""
        return stored_key(self.name)

    def spellings(self):
        """All accepted command-line spellings, e.g. ``--learning-rate`` and ``--learning_rate``."""
        names = {self.name, self.dest, *self.aliases}
        return sorted("--" + n for n in names)

    # -- validation -----------------------------------------------------------

    def parse(self, value):
        """Convert and validate a value from the command line or YAML.

        Args:
            value: a string from the command line, or any YAML scalar/list.

        Returns:
            The value converted to the declared type.

        Raises:
            OptionValueError: with a message saying what is allowed.
        """
        if value is None:
            if self.required:
                raise OptionValueError(f"a value is required ({self.describe()})")
            return None
        if isinstance(value, str) and value.strip().lower() in self.also:
            return value.strip().lower()
        converted = self._convert(value)
        self._check(converted, value)
        return converted

    @property
    def in_grid(self):
        """Whether several values make a grid of runs: numeric and choice options
        (see :mod:`vergeml.grid.grid_plan`)."""
        return self.type in ("int", "float") or bool(self.choices)

    def parse_values(self, value):
        """:meth:`parse`, but a comma list (command line) or a YAML list gives a list of values.

        Returns:
            The value, a list of two or more values for an option :attr:`in_grid`, or a
            :class:`~vergeml.settings.value_range.ValueRange` (``1e-4..0.1``) of a numeric one.

        Raises:
            OptionValueError: a bad value, or a list for an option that cannot take one.
        """
        ends = split_range(value) if self.type in ("int", "float") else None
        if ends is not None:
            return self._range(*ends)
        items = value.split(",") if isinstance(value, str) and "," in value else value
        if not isinstance(items, (list, tuple)) or self.type in ("list", "dict"):
            return self.parse(value)
        if not self.in_grid:
            raise OptionValueError("cannot take a list of values (a grid varies numeric and "
                                   "choice options only)")
        values = [self.parse(v.strip() if isinstance(v, str) else v) for v in items]
        if not values:
            raise OptionValueError(f"expected {self.describe()}, got an empty list")
        return values if len(values) > 1 else values[0]

    def _range(self, low, high):
        """A :class:`~vergeml.settings.value_range.ValueRange` of ``low..high`` (a search
        draws from it).

        Raises:
            OptionValueError: an end that is no value of the option, or ends out of order.
        """
        ends = [self.parse(low), self.parse(high)]
        if any(isinstance(end, str) for end in ends):  # auto and the like: no number to draw
            raise OptionValueError(f"a range needs two numbers, got {low}..{high}")
        if ends[0] >= ends[1]:
            raise OptionValueError(f"the range {low}..{high} must go from low to high")
        return ValueRange(*ends, integer=self.type == "int")

    def _convert(self, value):
        try:
            if self.type == "bool":
                return _to_bool(value)
            if self.type == "int":
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError
                return _int64(int(str(value).strip()) if isinstance(value, str) else int(value))
            if self.type == "float":
                if isinstance(value, bool):
                    raise ValueError
                if not math.isfinite(float(value)):  # nan, inf, 1e309: no setting means them
                    raise _OutOfRange("not a finite number")
                return float(value)
            if self.type == "list":
                if isinstance(value, str):
                    return [v.strip() for v in value.split(",") if v.strip()]
                if isinstance(value, (list, tuple)):
                    return [str(v) for v in value]
                raise ValueError
            if self.type == "dict":
                if not isinstance(value, dict):
                    raise ValueError
                return dict(value)
            if isinstance(value, (dict, list)):
                raise ValueError
            return str(value)
        except (TypeError, ValueError, OverflowError) as err:
            why = f" ({err})" if isinstance(err, _OutOfRange) else ""
            raise OptionValueError(f"expected {self.describe()}, got {_show(value)}{why}") from None

    def _check(self, value, raw):
        """Check the converted ``value``; messages show the ``raw`` value as typed."""
        if self.choices and value not in self.choices:
            hint = suggestion(str(value), [str(c) for c in self.choices])
            raise OptionValueError(
                f"expected {self.describe()}, got {_show(raw)}.{hint}".rstrip("."))
        if self.rule and not _satisfies(value, self.rule):
            raise OptionValueError(f"expected {self.describe()}, got {_show(raw)}")
        if self.pattern and not re.fullmatch(self.pattern[0], str(value)):
            raise OptionValueError(f"expected {self.describe()}, got {_show(raw)}")

    def describe(self):
        """Human description of what is allowed, e.g. ``a number > 0``."""
        if len(self.choices) > 8:
            text = "one of " + ", ".join(str(c) for c in self.choices[:6]) + \
                f" ... ({len(self.choices)} names, see 'ml help {self.name}')"
        elif self.choices:
            text = "one of " + ", ".join(str(c) for c in self.choices)
        elif self.pattern:
            text = self.pattern[1]
        else:
            text = {"int": "an integer", "float": "a number", "bool": "true or false",
                    "list": "a comma-separated list", "dict": "a mapping",
                    "str": "a string"}[self.type]
            if self.rule:
                text += " " + _rule_text(self.rule)
        if self.also:
            text += " or " + " or ".join(self.also)
        return text

    def type_text(self):
        """Short type column for help tables: ``int >0``, ``adam|sgd``."""
        if self.choices:
            text = "|".join(str(c) for c in self.choices)
        else:
            text = self.type + (" " + self.rule.replace(" ", "") if self.rule else "")
        if self.also:
            text += "|" + "|".join(self.also)
        return text


class _OutOfRange(ValueError):
    """A number of the right type that no setting can hold; its text says why."""


def _int64(value):
    """``value`` when a signed 64-bit integer holds it (NumPy, TensorFlow and JSON readers
    take no more), else :class:`_OutOfRange`."""
    if not -2 ** 63 <= value < 2 ** 63:
        raise _OutOfRange("beyond 64 bits")
    return value


def _to_bool(value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(value)


def _show(value):
    """A value as the user typed it: numbers bare, other text quoted."""
    if isinstance(value, str):
        try:
            float(value)
            return value.strip()
        except ValueError:
            return f'"{value}"'
    return repr(value)


def _satisfies(value, rule):
    if isinstance(value, str):
        return False
    match = _RANGE.match(rule)
    if match:
        low, high = float(match.group(1)), float(match.group(2))
        return low <= value <= high
    op, bound = _RULE.match(rule).groups()
    bound = float(bound)
    return {">": value > bound, ">=": value >= bound,
            "<": value < bound, "<=": value <= bound}[op]


def _rule_text(rule):
    match = _RANGE.match(rule)
    if match:
        return f"between {match.group(1)} and {match.group(2)}"
    op, bound = _RULE.match(rule).groups()
    return f"{op} {bound}"
