"""``ml @name plot:roc|pr|confusion-matrix``: charts of the stored test-split predictions.

The kinds are ``vergeml.plot`` plugins (:mod:`vergeml.plots.plot_commands`); this
command only dispatches to them, so loading it for ``ml help`` imports no
plotting library.
"""
from vergeml.plugins import registry as plugins
from vergeml.commands.command_base import Command, ONE_INSTANCE


class PlotCommand(Command):
    """Dispatch ``ml @name plot:<kind>`` to the plot plugin."""

    name = "plot"
    description = "Plot ROC or precision-recall curves or a confusion matrix of a trained instance."
    instance = ONE_INSTANCE
    subcommands = plugins.PLOTS
    examples = ("ml @nervous-tron plot:roc", "ml @nervous-tron plot:pr --class=cat",
                "ml @nervous-tron plot:confusion-matrix -n --output=cm.png")
