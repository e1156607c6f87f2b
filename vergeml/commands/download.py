"""``ml download:<dataset>``: fetch a data set into the samples directory."""
from vergeml.plugins import registry as plugins
from vergeml.commands.command_base import Command
from vergeml.errors import UsageError
from vergeml.settings.option import Option
from vergeml.settings.suggest import suggestion


class DownloadCommand(Command):
    """Resolve the dataset plugin named after ``download:`` and run it."""

    name = "download"
    description = "Download a data set into the samples directory."
    long_help = (
        "Downloads a data set and installs it into the samples directory, one folder "
        "per class. Downloads go to <cache-dir>/downloads/, resume where they stopped "
        "when interrupted, and are verified by SHA-256 where one is published; the "
        "archive is deleted once the samples are in place.\n\n"
        "Existing class folders are never overwritten unless --force is given. To "
        "download from a local mirror, set VERGEML_DOWNLOAD_MIRROR to a URL of a folder "
        "holding the files.")
    subcommands = plugins.DOWNLOADS
    options = (
        Option("force", type="bool", flag=True, default=False,
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
    available = plugins.names(plugins.DOWNLOADS)
    hint = "Available data sets: " + ", ".join(available)
    if not name:
        raise UsageError("missing dataset: use ml download:<dataset>", hint=hint)
    dataset = plugins.instantiate(plugins.DOWNLOADS, name)
    if dataset is None:
        raise UsageError(f"unknown dataset: {name}.{suggestion(name, available, 'download:')}",
                         hint=hint)
    return dataset

