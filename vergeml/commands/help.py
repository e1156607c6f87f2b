"""``ml help``: the overview, commands, options, topics and the glossary.

The text itself is built by :mod:`vergeml.help_text`.
"""
from vergeml.command import OPTIONAL_INSTANCE, Command
from vergeml.help_text import find_topic, overview
from vergeml.options import Option


class HelpCommand(Command):
    """Show help on commands, options and terms."""

    name = "help"
    description = "Show help on a command, option or term."
    instance = OPTIONAL_INSTANCE
    options = (Option("topic", positional=True, nargs="*", type="list",
                      help="A command, topic (options, glossary, models, data) or term."),)
    examples = ("ml help train", "ml help glossary", "ml help learning-rate")

    def run(self, args, env):
        topic = " ".join(args.get("topic") or [])
        print(overview(env) if not topic else find_topic(topic, env))
        return 0
