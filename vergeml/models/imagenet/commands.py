"""The imagenet model's commands: ``ml train`` and ``ml @name predict``.

Thin: the work is in :mod:`.training` and :mod:`.predictor`, imported only
when a command runs (``ml help`` reads these classes).
"""
from vergeml.command import Command
from vergeml.commands.predict import PredictCommand as GenericPredictCommand
from vergeml.models.imagenet.options import PREDICT_OPTIONS, TRAIN_OPTIONS


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
