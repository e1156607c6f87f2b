"""The :class:`Instance` model: one run's folder, its paths and its metadata.

Also the statuses a run can have and the conversion of values to plain YAML
types. Reading ``data.yaml`` is in :mod:`vergeml.instances.metadata`.
"""
import datetime
from pathlib import Path

from vergeml import faults
from vergeml.errors import VergeMLError
from vergeml.fileutil import atomic_write_text
from vergeml.instances.liveness import _process_alive

METADATA_FILE = "data.yaml"
# Written when a run reserves its folder, removed once data.yaml is saved: the pid and
# host of the run creating it. A folder without data.yaml but with this file is a run
# killed (or still busy) before its first save; without it, a broken folder.
RESERVATION_FILE = ".reserved.json"
# Top-level metadata blocks ml list never shows: not parsed for summaries.
SUMMARY_SKIP = ("history", "data", "versions")

RUNNING, FINISHED, CANCELLED, FAILED = "running", "finished", "cancelled", "failed"
# A trial of an ASHA search that the scheduler stopped early (tested at its best epoch).
STOPPED = "stopped"
CRASHED, BROKEN = "crashed", "broken"  # derived: never stored
STORED_STATUSES = (RUNNING, FINISHED, CANCELLED, FAILED, STOPPED)
TERMINAL_STATUSES = (FINISHED, CANCELLED, FAILED, STOPPED)



def utc_now_iso():
    """Current time as ISO-8601 UTC text.

    Returns:
        str, e.g. ``2026-11-27T18:00:00+00:00`` (whole seconds).
    """
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


class Instance:
    """One training run: a folder and its metadata.

    Attributes:
        name: folder name, used as ``@name``.
        path: the instance folder.
        metadata: the parsed ``data.yaml`` (empty when broken).
        problem: why the metadata could not be read, or None.
        partial: read as a summary (no history): must not be saved.
    """

    def __init__(self, path, metadata=None, problem=None, partial=False, name=None):
        """Args:
            path: the instance folder (str or path).
            metadata: the parsed metadata, or None.
            problem: why it could not be read, or None.
            partial: read as a summary.
            name: the folder name when the caller knows it; then ``path``
                becomes a :class:`~pathlib.Path` only when first used (``ml
                list`` makes thousands of instances and uses no path).
        """
        self._path = path
        self.name = name if name is not None else self.path.name
        self.metadata = metadata if metadata is not None else {}
        self.problem = problem
        self.partial = partial  # summary read (no history): must not be saved

    def __repr__(self):
        return f"Instance({self.name!r}, status={self.status!r})"

    # -- paths ----------------------------------------------------------------

    @property
    def path(self):
        """The instance folder as a :class:`~pathlib.Path`."""
        if not isinstance(self._path, Path):
            self._path = Path(self._path)
        return self._path

    @path.setter
    def path(self, value):
        self._path = value

    @property
    def metadata_path(self):
        return self.path / METADATA_FILE

    @property
    def checkpoints_dir(self):
        return self.path / "checkpoints"

    @property
    def stats_dir(self):
        return self.path / "stats"

    @property
    def plots_dir(self):
        return self.path / "plots"

    @property
    def tensorboard_dir(self):
        return self.path / "tensorboard"

    @property
    def model_path(self):
        return self.checkpoints_dir / "model.keras"

    @property
    def top_weights_path(self):
        return self.checkpoints_dir / "top.weights.h5"

    @property
    def labels_path(self):
        return self.checkpoints_dir / "labels.txt"

    @property
    def predictions_path(self):
        return self.stats_dir / "test_predictions.npz"

    @property
    def predictions_csv_path(self):
        return self.stats_dir / "predictions.csv"

    @property
    def history_path(self):
        return self.stats_dir / "history.csv"

    @property
    def project_file_path(self):
        """The project file as it was when the run started (``vergeml.yaml``)."""
        return self.path / "vergeml.yaml"

    # -- metadata -------------------------------------------------------------

    @property
    def hyperparameters(self):
        """Hyperparameters as stored (underscore names); empty when absent."""
        return _mapping(self.metadata.get("hyperparameters"))

    @property
    def results(self):
        """Results as stored (underscore names); empty when absent."""
        return _mapping(self.metadata.get("results"))

    @property
    def status(self):
        """Effective status: the stored one, ``crashed`` for a dead running
        process on this host, or ``broken`` for unreadable metadata."""
        if self.problem:
            return BROKEN
        stored = self.metadata.get("status")
        if stored == RUNNING and not _process_alive(self.metadata.get("pid"),
                                                    self.metadata.get("host"),
                                                    self.results.get("created_at")):
            return CRASHED
        return stored

    def labels(self):
        """Class names in model output order, from ``checkpoints/labels.txt``.

        Returns:
            list of str, blank lines dropped.

        Raises:
            VergeMLError: when the file is missing (run cancelled or failed early).
        """
        try:
            text = self.labels_path.read_text(encoding="utf-8")
        except OSError:
            raise VergeMLError(f"instance @{self.name} has no labels file ({self.labels_path}).",
                               hint="The run probably stopped before saving a checkpoint; "
                                    "train again.") from None
        return [line.strip() for line in text.splitlines() if line.strip()]

    def save(self):
        """Write ``data.yaml`` atomically (a reader never sees half a file).

        Raises:
            VergeMLError: the instance is broken or was read as a summary.
        """
        if self.problem or self.partial:
            # Overwriting would destroy what is left of (or was not read from) the file.
            raise VergeMLError(f"refusing to overwrite the metadata of @{self.name}: "
                               f"{self.problem or 'read as a summary only'}")
        import yaml
        plain = _plain(self.metadata)
        text = yaml.dump(plain, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False,
                         default_flow_style=False, allow_unicode=True)
        atomic_write_text(self.metadata_path, text)

    def update_results(self, save=True, **results):
        """Merge values into ``results`` and save.

        Args:
            save: write the file now (False to batch several updates).
            **results: e.g. ``epochs_done=3, val_acc=0.91``.
        """
        self.metadata.setdefault("results", {}).update(_plain(results))
        if save:
            self.save()

    def set_status(self, status, error=None):
        """Record a new status and save.

        A terminal status (finished, cancelled, failed) also records
        ``results.training_end`` and drops the pid.

        Args:
            status: one of running, finished, cancelled, failed, stopped.
            error: message to store (for failed runs).

        Raises:
            ValueError: ``status`` is not one that can be stored.
        """
        if status not in STORED_STATUSES:
            raise ValueError(f"invalid status {status!r}")
        self.metadata["status"] = status
        self.metadata["error"] = error
        if status in TERMINAL_STATUSES:
            self.metadata.pop("pid", None)
            self.metadata.setdefault("results", {})["training_end"] = utc_now_iso()
        faults.point("instance.status", status)  # the run is done but not yet marked so
        self.save()


def _mapping(value):
    """``value`` if it is a dict, else an empty dict."""
    return value if isinstance(value, dict) else {}


def _plain(value):
    """Convert to types YAML safe_dump accepts (NumPy scalars, tuples, paths).

    Args:
        value: any value, nested dicts and lists included.

    Returns:
        The same data made of dict (str keys), list, str, int, float, bool, None.
    """
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item") and hasattr(value, "dtype"):  # numpy scalar, no import needed
        return _plain(value.item())
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    return str(value)
