"""The data pipeline: sources, operations, splits, fingerprint and cache.

Names are imported lazily, so loading an operation plugin (for ``ml help``)
does not pull in NumPy, SQLite and the rest of the pipeline.

Public API::

    from vergeml.data import load_dataset, Cache
    ds = load_dataset(env, skip_bad=env.settings.get('skip-bad-files', False))
"""
import importlib

_EXPORTS = {
    "load_dataset": "vergeml.data.dataset",
    "Dataset": "vergeml.data.dataset",
    "Sample": "vergeml.data.dataset",
    "Cache": "vergeml.data.cache",
    "input_stage": "vergeml.data.cache",
    "BadImageError": "vergeml.data.images",
    "load_image": "vergeml.data.images",
    "fit_to_size": "vergeml.data.images",
    "IMAGE_EXTENSIONS": "vergeml.data.images",
    "CACHE_FORMAT_VERSION": "vergeml.data.fingerprint",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'vergeml.data' has no attribute {name!r}")
