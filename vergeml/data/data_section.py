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
``output`` (``image-features``, ``labeled-image-features``) chooses what
``ml preprocess`` writes; ``image``/``labeled-image`` there mean the images
themselves, as without ``output``.
"""
from dataclasses import dataclass, field

from vergeml.plugins import registry as plugins
from vergeml.data import sources
from vergeml.data.formats import CACHE_MODES as MODES
from vergeml.data.operations import parse_operations
from vergeml.settings.locations import located
from vergeml.errors import ConfigError
from vergeml.settings.suggest import suggestion

DATA_KEYS = ("input", "output", "cache", "preprocess")
DEFAULT_SOURCE = "labeled-image"
# Source types accepted as data.output: they mean the images as they are.
IMAGE_OUTPUTS = ("image", "labeled-image")


@dataclass
class DataConfig:
    """A validated ``data:`` section.

    Attributes:
        source: the input :class:`vergeml.data.sources.Source`.
        operations: list of :class:`vergeml.data.operations.Operation`.
        cache: cache mode from the project file, or None when not set.
        output: the :class:`vergeml.data.sources.Output`, or None for images.
    """

    source: object
    operations: list = field(default_factory=list)
    cache: str = None
    output: object = None


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
                                      f"unknown option data.{key}.{suggestion(str(key), DATA_KEYS)}",
                                      key=True))
    cache = data.get("cache")
    if cache is not None and cache not in MODES:
        hint = suggestion(str(cache), MODES)
        raise ConfigError(located(lines, "data.cache",
                                  f"data.cache: expected one of {', '.join(MODES)}, got {cache!r}.{hint}"))
    source = _parse_plugin(data.get("input"), "input", lines)
    output = _parse_plugin(data.get("output"), "output", lines) if data.get("output") else None
    if output is not None and output.role != "output":
        output = None  # an image source as output: the images themselves
    if output is not None and output.labeled and not source.labeled:
        raise ConfigError(located(lines, "data.output.type",
                                  f"data.output.type: {output.name} needs labeled samples, but "
                                  f"source {source.name} has none"),
                          hint="Use image-features, or a labeled source such as labeled-image.")
    return DataConfig(source=source, operations=parse_operations(data.get("preprocess"), lines),
                      cache=cache, output=output)


def _parse_plugin(value, key, lines):
    """Build the source (``key='input'``) or output (``'output'``) of a section."""
    where = f"data.{key}"
    if value is None:
        value = {}
    if isinstance(value, str):
        value = {"type": value}
    if not isinstance(value, dict):
        example = "labeled-image" if key == "input" else "labeled-image-features"
        raise ConfigError(located(lines, where, f"{where}: expected a type such as {example}, "
                                                f"or a mapping with type"))
    name = str(value.get("type") or (DEFAULT_SOURCE if key == "input" else ""))
    cls = source_class(name)
    if cls is None or not _fits(cls, key):
        # The shorthands (input: bogus, data: bogus) have no type: key to point at.
        spot = next((k for k in (f"{where}.type", where) if lines and k in lines), "data")
        raise ConfigError(located(lines, spot, _wrong_type(name, cls, key)))
    section = {k: v for k, v in value.items() if k != "type"}
    return cls.from_section(section, where=where, lines=lines)


def _fits(cls, key):
    """Outputs go under output; of the sources, the image ones double as outputs."""
    if cls is None:  # a plugin that does not load (already reported)
        return False
    role = getattr(cls, "role", "input")
    if key == "input":
        return role == "input"
    return role == "output" or cls.name in IMAGE_OUTPUTS


def _wrong_type(name, cls, key):
    where = f"data.{key}.type"
    names = [n for n in source_names() if _fits(source_class(n), key)]
    if not name:
        return f"{where}: missing; expected one of {', '.join(names)}"
    if cls is None:
        return (f"{where}: unknown type '{name}'; expected one of {', '.join(names)}."
                f"{suggestion(name, names)}")
    moved = " (it belongs under data.output)" if key == "input" else ""
    return f"{where}: {name} is not an {key} type{moved}; expected one of {', '.join(names)}"
