"""The imagenet model's commands: ``ml train``, ``ml @name resume``, ``ml @name predict``
and ``ml @name export``.

Thin: the work is in :mod:`.training.train`, :mod:`.training.resume`, :mod:`.predictor` and
:mod:`.export.exporter`, imported only
when a command runs (``ml help`` reads these classes).
"""
import os

from vergeml.commands.command_base import ONE_INSTANCE, Command
from vergeml.errors import UsageError
from vergeml.commands.predict import PredictCommand as GenericPredictCommand
from vergeml.grid.grid_plan import GRID_OPTIONS
from vergeml.models.imagenet.imagenet_options import PREDICT_OPTIONS, TRAIN_OPTIONS
from vergeml.settings.option import Option
from vergeml.runtimes.export_formats import DEFAULT_FORMAT, FORMATS


class TrainCommand(Command):
    """Train an image classifier on the project's samples."""

    name = "train"
    description = "Train an image classifier."
    long_help = (
        "Several values for a numeric or choice option (--learning-rate=0.001,0.01, or a\n"
        "list in vergeml.yaml) train a grid: one normal run per combination, one after\n"
        "another, sharing the feature cache; ml list --grid=ID compares them.")
    options = TRAIN_OPTIONS + GRID_OPTIONS
    takes_grids = True  # the command line and vergeml.yaml may give lists (vergeml.grid.grid_plan)
    examples = ("ml train", "ml train --learning-rate=0.005 --epochs=50",
                "ml train --architecture=mobilenet --alpha=0.25 --size=96",
                "ml train --learning-rate=0.001,0.01 --dropout=0.2,0.5")

    def run(self, args, env):
        from vergeml.grid.grid_plan import plan
        from vergeml.grid.grid_runner import run_grid
        from vergeml.models.imagenet.training.run_checks import check_runs
        from vergeml.models.imagenet.training.train import train
        if not args.get("resume"):  # a resumed run keeps the options it was checked with
            base, runs, _ = plan(args, self.options, env.random_seed)
            check_runs([{**base, **combo} for combo in runs], env)
            asha = args.get("search") == "asha"
            if asha or (len(runs) > 1 and env.settings.get("engine") == "ray"):
                from vergeml.models.imagenet.training import tune_search
                tune_search.require_tune()
                return tune_search.run_search(args, env, self.options, asha)
        return run_grid(args, env, train, self.options)


class PredictCommand(GenericPredictCommand):
    """``ml @name predict`` with the imagenet per-request options (``--resize``)."""

    options = (GenericPredictCommand.options[:1] + PREDICT_OPTIONS + (
        Option("export", metavar="FORMAT",
               help="Predict through an export instead of the Keras model: a format "
                    "(" + ", ".join(FORMATS) + ", as written by 'ml @name export'), "
                    "export/<format>, or an export folder."),
        Option("runtime", choices=("tensorflow", "openvino"),
               help="Run the model with tensorflow (default) or openvino: the openvino export "
                    "(written on first use), without importing TensorFlow."),
        Option("explain", type="bool", flag=True, default=False,
               help="Write a PNG per image with a Grad-CAM heatmap of what the prediction looked "
                    "at (the Keras model only), and print its path."),
        Option("explain-label", metavar="LABEL",
               help="With --explain: the class to explain (default: the predicted one)."),
        Option("explain-dir", metavar="DIR",
               help="With --explain: where the PNGs go (default: trainings/<name>/heatmaps)."),
    ) + GenericPredictCommand.options[1:])
    examples = GenericPredictCommand.examples + ("ml @nervous-tron predict --export=onnx cat.jpg",
                                                 "ml @nervous-tron predict --runtime=openvino cat.jpg",
                                                 "ml @nervous-tron predict --explain cat.jpg")

    @staticmethod
    def _predict(paths, args, env, instance):
        export = args.get("export")
        if args.get("explain") and (export or args.get("runtime") == "openvino"):
            raise UsageError("--explain needs the Keras model's gradients: leave out --export "
                             "and --runtime=openvino")
        if args.get("runtime") == "openvino" and not export:
            from vergeml.models.imagenet.export.openvino_export import ensure_openvino_export
            export = ensure_openvino_export(instance, env)
        predictor = env.model().predictor(instance, env.settings, export=export)
        # Built first: a backbone without maps or an unknown label is said before predicting.
        explainer = predictor.explainer() if args.get("explain") else None
        label = args.get("explain-label")
        if explainer and label:
            explainer.class_index(label)
        options = {o.name: args.get(o.name) for o in predictor.options}
        results = predictor.predict_files(paths, top_k=args["labels"], **options)
        if explainer:
            folder = args.get("explain-dir") or os.path.join(instance.path, "heatmaps")
            explainer.write_for_results(results, folder, label, args.get("resize"))
        return results


class ExportCommand(Command):
    """``ml @name export``: a self-contained, self-checked model for deployment."""

    name = "export"
    description = "Export a trained instance for deployment (SavedModel, TFLite, ONNX, Keras, OpenVINO)."
    instance = ONE_INSTANCE
    options = (
        Option("format", type="list", default=[DEFAULT_FORMAT], metavar="FORMATS",
               help="Export formats, a comma list of " + ", ".join(FORMATS) +
                    "; each is written to trainings/<name>/export/<format>/."),
    )
    examples = ("ml @nervous-tron export", "ml @nervous-tron export --format=tflite,onnx")

    def run(self, args, env):
        from vergeml.models.imagenet.export.exporter import export
        return export(args, env)


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
        from vergeml.models.imagenet.training.train import resume_run
        typed = {k: v for k, v in args.items() if v is not None}
        return resume_run(env, env.instance_names[0], typed, explicit=tuple(typed))
