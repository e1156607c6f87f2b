"""``ml help``: the overview, commands, options, topics and the glossary.

The text itself is built by :mod:`vergeml.cli.help_text`.
"""
from vergeml.commands.command_base import OPTIONAL_INSTANCE, Command
from vergeml.settings.option import Option


class HelpCommand(Command):
    """Show help on commands, options and terms."""

    name = "help"
    description = "Show help on a command, option or term."
    instance = OPTIONAL_INSTANCE
    # Command line only: a help: key in vergeml.yaml would be the global option --help.
    options = (Option("all", short="a", type="bool", flag=True, default=False, yaml=False,
                      help="List every topic: commands, topics, operations, data sources, "
                           "downloads, plots and services."),
               Option("topic", positional=True, nargs="*", type="list", yaml=False,
                      help="A command, topic (options, glossary, models, data), option or term."),)
    examples = ("ml help train", "ml help glossary", "ml help learning-rate", "ml help --cache",
                "ml help -a")

    def run(self, args, env):
        from vergeml.cli.help_text import all_topics, find_topic, overview
        topic = " ".join(args.get("topic") or [])
        if args.get("all"):
            print(all_topics(env))
        else:
            print(overview(env) if not topic else find_topic(topic, env))
        return 0
