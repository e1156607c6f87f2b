"""The imagenet model's commands: ``ml train``, ``ml @name resume`` and ``ml @name predict``.

Thin: the work is in :mod:`.training` and :mod:`.predictor`, imported only
when a command runs (``ml help`` reads these classes).
"""
from vergeml.command import ONE_INSTANCE, Command
from vergeml.commands.predict import PredictCommand as GenericPredictCommand
from vergeml.models.imagenet.options import PREDICT_OPTIONS, TRAIN_OPTIONS
from vergeml.options import Option


class TrainCommand(Command):
    """Train an image classifier on the project's samples."""

    name = "train"
    description = "Train an image classifier."
    options = TRAIN_OPTIONS
    examples = ("ml train", "ml train --learning-rate=0.005 --epochs=50",
                "ml train --architecture=mobilenet --alpha=0.25 --size=96")

    def run(self, args, env):
        from vergeml.models.imagenet.training import train
        return train(args, env)


class PredictCommand(GenericPredictCommand):
    """``ml @name predict`` with the imagenet per-request options (``--resize``)."""

    options = GenericPredictCommand.options[:1] + PREDICT_OPTIONS + GenericPredictCommand.options[1:]


class ResumeCommand(Command):
    """``ml @name resume``: continue a cancelled or crashed run from its last completed epoch."""

    name = "resume"
    description = "Continue a cancelled, crashed or failed training run."
    instance = ONE_INSTANCE
    options = (
        Option("epochs", type="int", rule=">0",
               help="Extend phase 1 to this many epochs (default: as the run was started)."),
        Option("fine-tune-epochs", type="int", rule=">=0",
               help="Extend phase 2 to this many epochs (default: as the run was started)."),
    )
    examples = ("ml @nervous-tron resume", "ml @nervous-tron resume --epochs=20")

    def run(self, args, env):
        from vergeml.models.imagenet.training import train
        return train({**args, "resume": env.instance_names[0]}, env)
