"""Training instances: the folders under ``trainings/<name>/`` and their metadata.

Each run lives in its own folder (layout in ``docs/architecture.md``) with a
small ``data.yaml`` holding status, hyperparameters and results. This package
only reads and writes that metadata; it never imports TensorFlow or Keras, so
``ml list`` stays fast.

Modules: :mod:`~vergeml.instances.instance` (the model and statuses),
:mod:`~vergeml.instances.metadata` (reading ``data.yaml``),
:mod:`~vergeml.instances.liveness` (is a run's process alive),
:mod:`~vergeml.instances.folders` (scan, load, create),
:mod:`~vergeml.instances.names` (robot names),
:mod:`~vergeml.instances.run_files` (the project file copy and ``stats/predictions.csv``),
:mod:`~vergeml.instances.list_index` (every run's ``ml list`` summary in one cache file),
:mod:`~vergeml.instances.table_render` (the table text) and
:mod:`~vergeml.instances.listing` (the ``ml list`` table).
"""
from vergeml.instances.folders import (NAME_PATTERN, SUBFOLDERS, check_new_name,
                                       check_writable, create_instance, instance_dirs, load_instance,
                                       scan_instances)
from vergeml.instances.instance import (BROKEN, CANCELLED, CRASHED, FAILED, FINISHED,
                                        METADATA_FILE, RUNNING, STORED_STATUSES,
                                        TERMINAL_STATUSES, Instance, utc_now_iso)
from vergeml.instances.liveness import hostname
from vergeml.instances.instance import SUMMARY_SKIP
from vergeml.instances.metadata import read_instance

__all__ = [
    "BROKEN", "CANCELLED", "CRASHED", "FAILED", "FINISHED", "RUNNING",
    "STORED_STATUSES", "TERMINAL_STATUSES", "METADATA_FILE", "NAME_PATTERN",
    "SUBFOLDERS", "SUMMARY_SKIP", "Instance", "check_new_name", "check_writable",
    "create_instance",
    "hostname", "instance_dirs", "load_instance", "read_instance", "scan_instances",
    "utc_now_iso",
]
