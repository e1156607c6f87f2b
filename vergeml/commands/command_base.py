"""The command interface every ``ml`` command (built-in or plugin) implements."""
from vergeml.plugins import registry as plugins
from vergeml.errors import UsageError
from vergeml.settings.option_set import OptionSet

# How many @instance arguments a command takes.
NO_INSTANCE, ONE_INSTANCE, OPTIONAL_INSTANCE, ANY_INSTANCES = "none", "one", "optional", "any"


class Command:
    """Base class of a command such as ``list`` or ``train``.

    Subclasses set the class attributes and implement :meth:`run`. They must
    not import TensorFlow or Keras at module level: ``ml help`` imports every
    command module to show its options.

    Attributes:
        name: the word typed after ``ml``.
        description: one line shown in ``ml help``.
        long_help: optional paragraphs shown by ``ml help <name>``.
        options: tuple of :class:`vergeml.settings.option.Option`.
        instance: how many ``@name`` arguments it takes (see constants above).
        subcommands: entry-point group of ``name:sub`` plugins, if any; a
            sub-plugin is a Command too, and its options are added.
        aliases: other words for the command (``ls`` for ``list``).
        examples: example command lines for the help page and docs.
    """

    name = ""
    description = ""
    long_help = ""
    options = ()
    instance = NO_INSTANCE
    subcommands = None
    aliases = ()
    examples = ()

    def option_set(self):
        """The command's options as an :class:`OptionSet`."""
        return OptionSet(self.options)

    def preparse(self, tokens):
        """Take tokens argparse cannot handle out of the argument list.

        Args:
            tokens: command-line tokens after the command word.

        Returns:
            ``(tokens, extra)``: what argparse should parse, and a dict merged
            into the resolved arguments.
        """
        return tokens, {}

    def run(self, args, env):
        """Execute the command; by default, hand ``command:sub`` to its sub-plugin.

        Args:
            args: dict of canonical option name to value, after merging the
                command line, the project file section and the defaults.
            env: the :class:`vergeml.settings.environment.Environment` (project, paths, instance).

        Returns:
            Exit status (None means 0).
        """
        if not self.subcommands:
            raise NotImplementedError
        return plugins.instantiate(self.subcommands, env.subcommand).run(args, env)


def lookup(name, env):
    """The command class (or object) the word ``name`` names; None when none does.

    A ``vergeml.cmd`` plugin of that name, else the model's command of that
    name, else a ``vergeml.cmd`` plugin with that alias. Only the alias step
    imports every command plugin, so ``ml help train`` imports one command.
    """
    found = plugins.load(plugins.COMMANDS, name)
    if found is None:
        model = env.model()
        found = (model.commands() if model else {}).get(name)
    if found is None:
        found = next((plugin for _, plugin in plugins.available(plugins.COMMANDS)
                      if name in getattr(plugin, "aliases", ())), None)
    return found


def check_arity(command, count, label):
    """Raise a UsageError when ``count`` @instance arguments do not fit ``command.instance``."""
    arity = getattr(command, "instance", NO_INSTANCE)
    if arity == NO_INSTANCE and count:
        raise UsageError(f"'{label}' does not take an @instance argument")
    if arity == ONE_INSTANCE and count != 1:
        raise UsageError(f"'{label}' needs exactly one @instance, e.g. ml @nervous-tron {label}",
                         hint="Run 'ml list' to see all instances.")
    if arity == OPTIONAL_INSTANCE and count > 1:
        raise UsageError(f"'{label}' takes at most one @instance")
