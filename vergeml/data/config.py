"""The ``data:`` section of vergeml.yaml: input source, operations, cache mode.

::

    data:
      input:
        type: labeled-image        # or the shorthand  input: labeled-image
      cache: disk                  # overridden by --cache
      preprocess:
        - op: resize
          width: 64
          height: 64

``data: labeled-image`` is short for ``data: {input: {type: labeled-image}}``.
``output`` is accepted for compatibility and decided by the model.
"""
from dataclasses import dataclass, field

from vergeml import plugins
from vergeml.data import sources
from vergeml.data.cache import MODES
from vergeml.data.operations import located, parse_operations
from vergeml.errors import ConfigError
from vergeml.options import OptionSet
from vergeml.suggest import suggestion

DATA_KEYS = ("input", "output", "cache", "preprocess")
DEFAULT_SOURCE = "labeled-image"


@dataclass
class DataConfig:
    """A validated ``data:`` section.

    Attributes:
        source: the input :class:`vergeml.data.sources.Source`.
        operations: list of :class:`vergeml.data.operations.Operation`.
        cache: cache mode from the project file, or None when not set.
    """

    source: object
    operations: list = field(default_factory=list)
    cache: str = None


def source_names():
    """Names of all data sources, built-in and installed plugins, sorted."""
    return sorted(set(sources.BUILTIN) | set(plugins.names(plugins.SOURCES)))


def source_class(name):
    """The class of a source by name; None when unknown."""
    return sources.BUILTIN.get(name) or plugins.load(plugins.SOURCES, name)


def parse_data_config(data, lines=None):
    """Validate the ``data:`` section.

    Args:
        data: the raw value of ``data`` (mapping, shorthand string or None).
        lines: ``ProjectFile.lines`` for ``file:line:`` prefixes.

    Returns:
        :class:`DataConfig`.

    Raises:
        ConfigError: for unknown keys, types or operations and bad values.
    """
    if data is None:
        data = {}
    if isinstance(data, str):
        data = {"input": {"type": data}}
    if not isinstance(data, dict):
        raise ConfigError(located(lines, "data", "data: expected a mapping with input, cache, preprocess"))
    for key in data:
        if str(key) not in DATA_KEYS:
            raise ConfigError(located(lines, f"data.{key}",
                                      f"unknown option data.{key}.{suggestion(str(key), DATA_KEYS)}"))
    cache = data.get("cache")
    if cache is not None and cache not in MODES:
        hint = suggestion(str(cache), MODES)
        raise ConfigError(located(lines, "data.cache",
                                  f"data.cache: expected one of {', '.join(MODES)}, got {cache!r}.{hint}"))
    return DataConfig(source=_parse_source(data.get("input"), lines),
                      operations=parse_operations(data.get("preprocess"), lines),
                      cache=cache)


def _parse_source(value, lines):
    if value is None:
        value = {}
    if isinstance(value, str):
        value = {"type": value}
    if not isinstance(value, dict):
        raise ConfigError(located(lines, "data.input", "data.input: expected a source type such as "
                                                       "labeled-image, or a mapping with type"))
    name = str(value.get("type") or DEFAULT_SOURCE)
    cls = source_class(name)
    if cls is None:
        hint = suggestion(name, source_names())
        raise ConfigError(located(lines, "data.input.type",
                                  f"data.input.type: unknown source '{name}'.{hint}"))
    section = {k: v for k, v in value.items() if k != "type"}
    values = OptionSet(cls.options).resolve({}, section, where="data.input", lines=lines)
    try:
        return cls(**values)
    except ConfigError as err:
        raise ConfigError(located(lines, "data.input", err.message)) from None
