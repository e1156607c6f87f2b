"""Where the project is: its folder (looked for upwards, as git looks for ``.git``)
and its ``vergeml.yaml``. Re-exported by :mod:`vergeml.settings.project_settings`."""
from pathlib import Path

from vergeml.errors import ConfigError

PROJECT_FILE = "vergeml.yaml"


def find_project_file(project_dir, explicit=None):
    """Locate the project file.

    Args:
        project_dir: the project directory.
        explicit: a path given with ``--file`` (must exist).

    Returns:
        The path, or None when there is no project file (which is fine for
        commands that do not need one).
    """
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"project file not found: {explicit}")
        return path
    path = Path(project_dir) / PROJECT_FILE
    return path if path.is_file() else None


def find_project_dir(start):
    """The project folder for a command run in ``start``: the nearest of ``start``
    and the folders above it that holds a ``vergeml.yaml``, as git looks for
    ``.git``, so ``ml list`` inside ``samples/`` finds the project; ``start``
    itself when none does (commands outside a project work as before).

    The caller skips this for ``--project-dir`` and ``--file`` (they say where
    the project is) and for ``ml new`` (it creates a project where it runs).

    Args:
        start: the current folder.

    Returns:
        A :class:`~pathlib.Path`.
    """
    start = Path(start).absolute()
    for folder in (start, *start.parents):
        try:
            if (folder / PROJECT_FILE).is_file():
                return folder
        except OSError:  # an unreadable folder above: stop looking, as git does
            break
    return start
