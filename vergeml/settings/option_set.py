"""Sets of options: look-up in any spelling, and the one resolver of
command line > project file > default (:meth:`OptionSet.resolve`), with
errors located in the project file; :class:`Configurable`, the base of
plugins configured by declared options (sources, outputs, operations).
"""
from vergeml.errors import ConfigError
from vergeml.settings.locations import located
from vergeml.settings.option import OptionValueError
from vergeml.settings.spelling import canonical
from vergeml.settings.suggest import suggestion


class OptionSet:
    """An ordered collection of options with name lookup in any spelling."""

    def __init__(self, options=()):
        self._options = {}
        for option in options:
            self.add(option)

    def add(self, option):
        """Add a declaration; a second option of the same name is an error."""
        key = canonical(option.name)
        if key in self._options:
            raise ValueError(f"option {key} declared twice")
        self._options[key] = option

    def __iter__(self):
        return iter(self._options.values())

    def __len__(self):
        return len(self._options)

    def __contains__(self, name):
        return self.get(name) is not None

    def get(self, name):
        """Find an option by any spelling or alias; None when unknown."""
        key = canonical(name)
        if key in self._options:
            return self._options[key]
        for option in self._options.values():
            if key in (canonical(a) for a in option.aliases):
                return option
        return None

    def names(self):
        """Canonical names of all options, in declaration order."""
        return list(self._options)

    def defaults(self):
        """Mapping of canonical name to default value."""
        return {o.name: o.default for o in self}

    def resolve(self, command_line, section, where="", lines=None, hint=None, lists=False):
        """Merge values by precedence: command line > project file > default.

        Args:
            command_line: mapping of option name to the raw string given on
                the command line (only options the user actually typed).
            section: mapping from the project file (may be None).
            where: dotted prefix for error messages, e.g. ``train``.
            lines: mapping of dotted key to line number in the project file,
                for located error messages.
            hint: second line of the error for a bad command-line value.
            lists: accept several values for numeric and choice options (a grid,
                see :meth:`Option.parse_values`); they come back as lists.

        Returns:
            dict of canonical name to validated value, one entry per option.

        Raises:
            ConfigError: for an unknown key or an invalid value.
        """
        values = self.defaults()
        for key, raw in (section or {}).items():
            option = self.get(str(key))
            dotted = f"{where}.{key}" if where else str(key)
            if option is None:
                maybe = suggestion(str(key), [o.name for o in self if o.yaml])
                raise ConfigError(located(lines, dotted, f"unknown option {dotted}.{maybe}", key=True))
            if not option.yaml:
                raise ConfigError(located(lines, dotted, _command_line_only(option, dotted), key=True))
            if raw is None:  # "epochs:" with nothing after it: not set, as if the line were absent
                continue
            values[option.name] = parse_located(option, raw, dotted, lines, lists)
        for key, raw in command_line.items():
            option = self.get(key)
            try:
                values[option.name] = option.parse_values(raw) if lists else option.parse(raw)
            except OptionValueError as err:
                raise ConfigError(f"--{option.name}: {err}", hint=hint) from None
        for option in self:
            if option.required and values.get(option.name) is None:
                raise ConfigError(f"missing argument --{option.name} ({option.help})")
        return values


def parse_located(option, raw, dotted, lines=None, lists=False):
    """``option.parse(raw)`` for the project file's ``dotted`` key; errors located there.

    ``lists``: a YAML list of a numeric or choice option is a grid (:meth:`Option.parse_values`).

    Raises:
        ConfigError: ``file:line:column: dotted: what is allowed``.
    """
    try:
        return option.parse_values(raw) if lists else option.parse(raw)
    except OptionValueError as err:
        raise ConfigError(located(lines, dotted, f"{dotted}: {err}")) from None


def _command_line_only(option, dotted):
    if option.positional:
        return f"{dotted}: <{option.name}> is a command-line argument; it cannot be set in the project file"
    return f"unknown option {dotted} (--{option.name} can only be given on the command line)"


class Configurable:
    """A plugin configured by declared options: data sources, outputs, operations.

    Attributes:
        name: the plugin's name in vergeml.yaml (``type:`` or ``op:`` value).
        description: one line for ``ml help``.
        options: tuple of :class:`Option`.
        values: canonical option name -> value (defaults filled in).
        given: canonical names of the options the project file set.
    """

    name = ""
    description = ""
    options = ()

    def __init__(self, **values):
        declared = OptionSet(self.options)
        self.values = {**declared.defaults(), **{canonical(k): v for k, v in values.items()}}
        self.given = frozenset()
        self.check()

    def check(self):
        """Cross-option validation; raise ConfigError (override when needed)."""

    def __getitem__(self, key):
        return self.values[key]

    def __repr__(self):
        return f"{type(self).__name__}({self.values})"

    @classmethod
    def from_section(cls, section, where="", lines=None, anchor=None):
        """Validate a project-file mapping of option values and build the plugin.

        Args:
            section: the mapping of option names to values.
            where: its dotted key, e.g. ``data.preprocess.0``.
            lines: ``ProjectFile.lines`` for located messages.
            anchor: dotted key whose line locates cross-option errors
                (default ``where``).

        Raises:
            ConfigError: unknown option or bad value, located in the file.
        """
        option_set = OptionSet(cls.options)
        values = option_set.resolve({}, section, where=where, lines=lines)
        try:
            plugin = cls(**values)
        except ConfigError as err:
            message = f"{where}: {err.message}" if where else err.message
            raise ConfigError(located(lines, anchor or where, message)) from None
        plugin.given = frozenset(option_set.get(str(key)).name for key in section)
        return plugin
