"""``ml download:<dataset>``: fetch a data set into the samples directory."""
from vergeml import plugins
from vergeml.command import Command
from vergeml.errors import UsageError
from vergeml.options import Option
from vergeml.suggest import suggestion


class _DatasetHelp:
    """``long_help`` computed on access, so it lists installed dataset plugins."""

    def __get__(self, obj, owner):
        return ("Downloads a data set and installs it into the samples directory, "
                "one folder per class. Downloads resume when interrupted and are "
                "verified by checksum where one is published.\n\nData sets:\n"
                + dataset_table())


class DownloadCommand(Command):
    """Resolve the dataset plugin named after ``download:`` and run it."""

    name = "download"
    description = "Download a data set into the samples directory."
    long_help = _DatasetHelp()
    subcommands = plugins.DATASETS
    options = (
        Option("force", type="bool", flag=True, default=False, yaml=False,
               help="Replace class folders that already exist in the samples directory."),
    )
    examples = ("ml download:digits", "ml download:cats-and-dogs --samples-dir=pets")

    def run(self, args, env):
        """Run the dataset plugin ``env.subcommand``.

        Args:
            args: resolved options (``force`` and the dataset's own options).
            env: the environment; ``env.samples_dir`` is created if missing.

        Returns:
            Exit status.
        """
        return resolve_dataset(env.subcommand).download(env, args)


def resolve_dataset(name):
    """Load the dataset plugin ``name``.

    Raises:
        UsageError: no name given, or no such data set (with a suggestion).
    """
    available = plugins.names(plugins.DATASETS)
    hint = "Available data sets: " + ", ".join(available)
    if not name:
        raise UsageError("missing dataset: use ml download:<dataset>", hint=hint)
    dataset = plugins.instantiate(plugins.DATASETS, name)
    if dataset is None:
        raise UsageError(f"unknown dataset: {name}.{suggestion(name, available, 'download:')}",
                         hint=hint)
    return dataset


def dataset_table():
    """One indented line per registered data set: name and description."""
    rows = []
    for name in plugins.names(plugins.DATASETS):
        try:
            description = plugins.load(plugins.DATASETS, name).description
        except Exception:  # a broken third-party plugin must not break help  # noqa: BLE001
            description = "(could not be loaded)"
        rows.append((name, description))
    width = max((len(n) for n, _ in rows), default=0)
    return "\n".join(f"  {n.ljust(width)}  {d}" for n, d in rows)
