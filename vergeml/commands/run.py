"""``ml run:<service>``: start a long-running service (rest, tensorboard)."""
from vergeml import plugins
from vergeml.command import Command, OPTIONAL_INSTANCE
from vergeml.errors import UsageError
from vergeml.suggest import suggestion


def load_subplugin(group, sub, command):
    """Instantiate the ``command:sub`` plugin or raise a UsageError listing the choices.

    Args:
        group: entry-point group (``vergeml.run``).
        sub: the name after the colon (None when missing).
        command: the command word, for messages.

    Returns:
        The plugin object.
    """
    available = plugins.names(group)
    listing = ", ".join(f"{command}:{n}" for n in available)
    if not sub:
        raise UsageError(f"missing {command} type: use one of {listing}",
                         hint=f"See 'ml help {command}'.")
    plugin = plugins.instantiate(group, sub)
    if plugin is None:
        hint = suggestion(sub, available, prefix=f"{command}:")
        raise UsageError(f"unknown {command} type '{command}:{sub}'.{hint}".rstrip("."),
                         hint=f"Available: {listing}.")
    return plugin


class RunCommand(Command):
    """Dispatch ``ml [@name] run:<service>`` to the service plugin."""

    name = "run"
    description = "Run a service: a REST server for a trained instance, or TensorBoard."
    long_help = ("Services:\n"
                 "  rest          serve @name's model over HTTP (ml @name run:rest)\n"
                 "  tensorboard   TensorBoard on the training logs (ml [@name] run:tensorboard)")
    instance = OPTIONAL_INSTANCE
    subcommands = plugins.SERVICES
    examples = ("ml @nervous-tron run:rest",
                "ml @nervous-tron run:rest --port=8080 --no-browser",
                "ml run:tensorboard")

    def run(self, args, env):
        """Load the ``run:<service>`` plugin and run it."""
        return load_subplugin(plugins.SERVICES, env.subcommand, "run").run(args, env)
