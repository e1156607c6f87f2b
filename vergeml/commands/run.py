"""``ml run:<service>``: start a long-running service (rest, tensorboard)."""
from vergeml import plugins
from vergeml.command import ANY_INSTANCES, NO_INSTANCE, ONE_INSTANCE, OPTIONAL_INSTANCE, Command
from vergeml.errors import UsageError
from vergeml.suggest import suggestion


def load_subplugin(group, sub, command, env=None):
    """Instantiate the ``command:sub`` plugin or raise a UsageError listing the choices.

    Args:
        group: entry-point group (``vergeml.run``).
        sub: the name after the colon (None when missing).
        command: the command word, for messages.
        env: when given, the number of ``@names`` is checked against the
            plugin's ``instance`` arity (the CLI checks only the command's).

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
    if env is not None:
        check_arity(plugin, len(env.instance_names), f"{command}:{sub}")
    return plugin


def check_arity(plugin, count, label):
    """Raise a UsageError when ``count`` @names do not fit the plugin's arity."""
    arity = getattr(plugin, "instance", NO_INSTANCE)
    if arity == NO_INSTANCE and count:
        raise UsageError(f"'{label}' does not take an @instance argument")
    if arity == ONE_INSTANCE and count != 1:
        raise UsageError(f"'{label}' needs exactly one @instance, e.g. ml @nervous-tron {label}",
                         hint="Run 'ml list' to see all instances.")
    if arity == OPTIONAL_INSTANCE and count > 1:
        raise UsageError(f"'{label}' takes at most one @instance")


class RunCommand(Command):
    """Dispatch ``ml [@name] run:<service>`` to the service plugin."""

    name = "run"
    description = "Run a service: a REST server for a trained instance, or TensorBoard."
    # The services check their own arity (rest: one, tensorboard: any).
    instance = ANY_INSTANCES
    subcommands = plugins.SERVICES
    examples = ("ml @nervous-tron run:rest",
                "ml @nervous-tron run:rest --port=8080 --no-browser",
                "ml run:tensorboard")

    def run(self, args, env):
        """Load the ``run:<service>`` plugin and run it."""
        return load_subplugin(plugins.SERVICES, env.subcommand, "run", env).run(args, env)
