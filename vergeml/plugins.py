"""Plugin look-up through setuptools entry points.

Built-in commands, models, data sources, operations, datasets, plots and
services register in ``setup.py`` exactly as a third-party package would, so
an installed package can add any of them. Entry points are loaded only when
used, which keeps ``ml help`` and ``ml list`` from importing heavy modules.
"""
import sys
from functools import lru_cache
from importlib.metadata import entry_points
from vergeml.console import warn

COMMANDS = "vergeml.cmd"
MODELS = "vergeml.model"
SOURCES = "vergeml.io"
OPERATIONS = "vergeml.operation"
DOWNLOADS = "vergeml.download"
PLOTS = "vergeml.plot"
SERVICES = "vergeml.run"


@lru_cache(maxsize=None)
def _group(group):
    found = {}
    for entry in entry_points(group=group):
        found.setdefault(entry.name, entry)
    return found


def names(group):
    """Sorted names of the loadable plugins of an entry-point group."""
    return sorted(name for name in _group(group) if load(group, name) is not None)


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
