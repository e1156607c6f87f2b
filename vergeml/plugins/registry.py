"""Plugin look-up through setuptools entry points.

Built-in commands, models, data sources, operations, datasets, plots and
services register in ``setup.py`` exactly as a third-party package would, so
an installed package can add any of them. Entry points are loaded only when
used, which keeps ``ml help`` and ``ml list`` from importing heavy modules.

The entry points are read straight from the ``entry_points.txt`` of every
``*.dist-info`` / ``*.egg-info`` folder on ``sys.path`` (first distribution
of a name wins, as with :mod:`importlib.metadata`): importing
``importlib.metadata`` alone costs about as much as the whole Python start-up
(it pulls in ``email``, ``zipfile``, ``csv`` ...), and every ``ml`` command
looks its plugins up.
"""
import os
import sys
from functools import lru_cache, reduce
from importlib import import_module

from vergeml.console import warn

COMMANDS = "vergeml.cmd"
MODELS = "vergeml.model"
SOURCES = "vergeml.io"
OPERATIONS = "vergeml.operation"
DOWNLOADS = "vergeml.download"
PLOTS = "vergeml.plot"
SERVICES = "vergeml.run"

_METADATA_SUFFIXES = (".dist-info", ".egg-info")


class EntryPoint:
    """One ``name = module:attr [extras]`` line of an ``entry_points.txt``."""

    __slots__ = ("name", "value", "group")

    def __init__(self, name, value, group):
        self.name, self.value, self.group = name, value, group

    def __repr__(self):
        return f"EntryPoint({self.name!r}, {self.value!r}, {self.group!r})"

    def load(self):
        """Import the module and return the attribute the entry point names."""
        module, _, attr = self.value.split("[", 1)[0].partition(":")
        found = import_module(module.strip())
        return reduce(getattr, attr.strip().split("."), found) if attr.strip() else found


def _normalized(folder_name):
    """The distribution name of a metadata folder, as importlib.metadata normalizes it."""
    stem = folder_name.rsplit(".", 1)[0].split("-", 1)[0]
    return "".join("_" if c in "-_." else c for c in stem.lower())


def _metadata_files():
    """``entry_points.txt`` paths of the distributions on ``sys.path``, first of a name only."""
    seen = set()
    for folder in sys.path:
        try:
            entries = os.listdir(folder or ".")
        except OSError:  # a zip file, or a path that does not exist
            continue
        for entry in entries:
            if not entry.endswith(_METADATA_SUFFIXES):
                continue
            name = _normalized(entry)
            if name in seen:
                continue
            seen.add(name)
            yield os.path.join(folder or ".", entry, "entry_points.txt")


@lru_cache(maxsize=None)
def _all_entry_points():
    """``{group: [EntryPoint, ...]}`` of every installed distribution, in path order."""
    groups = {}
    for path in _metadata_files():
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError):
            continue
        group = None
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("[") and line.endswith("]"):
                group = line[1:-1].strip()
            elif group is not None and "=" in line:
                name, _, value = line.partition("=")
                groups.setdefault(group, []).append(EntryPoint(name.strip(), value.strip(), group))
    return groups


@lru_cache(maxsize=None)
def _group(group):
    found = {}
    for entry in _all_entry_points().get(group, ()):
        found.setdefault(entry.name, entry)
    return found


def names(group):
    """Sorted names registered in an entry-point group, from metadata only.

    No plugin is imported: ``ml help`` and ``ml list`` must not pay for (or
    break on) plugins they do not run. A broken plugin is found, reported
    and treated as absent when it is loaded (:func:`load`).
    """
    return sorted(_group(group))


def available(group):
    """``(name, plugin)`` of every plugin of ``group`` that loads, sorted by name.

    Imports each plugin: only for pages that show every plugin's description.
    """
    loaded = ((name, load(group, name)) for name in names(group))
    return [(name, plugin) for name, plugin in loaded if plugin is not None]


@lru_cache(maxsize=None)
def load(group, name):
    """Load the plugin ``name`` of ``group``; None when it is not registered.

    A plugin that fails to import is reported once and treated as absent, so
    one broken third-party package cannot break every command.
    """
    entry = _group(group).get(name)
    if entry is None:
        return None
    try:
        return entry.load()
    except Exception as error:  # noqa: BLE001 - any import failure of foreign code
        warn(f"plugin '{name}' ({group}) could not be loaded: {error}")
        return None


def instantiate(group, name):
    """Load a plugin class and return an instance of it (None when unknown)."""
    plugin = load(group, name)
    return plugin() if isinstance(plugin, type) else plugin
