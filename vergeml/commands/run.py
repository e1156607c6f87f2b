"""``ml run:<service>``: start a long-running service (rest, tensorboard)."""
from vergeml import plugins
from vergeml.command import Command


class RunCommand(Command):
    """Dispatch ``ml [@name] run:<service>`` to the service plugin (Command.run does it)."""

    name = "run"
    description = "Run a service: a REST server for a trained instance, or TensorBoard."
    subcommands = plugins.SERVICES
    examples = ("ml @nervous-tron run:rest",
                "ml @nervous-tron run:rest --port=8080 --no-browser",
                "ml run:tensorboard")
