"""``ml @name predict``: classify image files with a trained instance of any model."""
import json
import os
import sys

from vergeml.commands.command_base import ONE_INSTANCE, Command
from vergeml.console import warn
from vergeml.errors import VergeMLError
from vergeml.cli.inputs import expand_paths, input_problem
from vergeml.models.model_base import LABELS_OPTION
from vergeml.settings.option import Option


class PredictCommand(Command):
    """Classify image files with the instance's predictor (:class:`vergeml.models.model_base.Predictor`).

    A model plugin subclasses it to add its per-request options (``resize``).
    """

    name = "predict"
    description = "Predict the class of images with a trained instance."
    instance = ONE_INSTANCE
    options = (
        LABELS_OPTION,
        Option("compact", type="bool", flag=True, default=False,
               help="Print one line per file: the path and the most likely label."),
        Option("format", default="text", choices=("text", "json"),
               help="Output format: text or json."),
        Option("files", type="list", positional=True, nargs="+", yaml=False, required=True,
               metavar="FILE", help="Image files, folders (searched recursively) or glob patterns."),
    )
    examples = (
        "ml @nervous-tron predict cat.jpg",
        "ml @nervous-tron predict --labels=3 photos/",
        "ml @nervous-tron predict --compact 'photos/*.jpg'",
        "ml @nervous-tron predict --format=json photos/ > predictions.json",
    )

    def run(self, args, env):
        """Predict every file and print the results; exit 1 only if all failed."""
        instance = env.instance()  # an unknown @name is reported first (cheap: data.yaml only)
        if args.get("format") == "json" and args.get("compact"):
            warn("--compact has no effect with --format=json (the JSON lists every label asked for)")
        paths = expand_paths(args["files"])
        if not paths:
            raise VergeMLError("no image files found in: " + " ".join(args["files"]))
        # Checked before the model (and TensorFlow) is loaded: a missing file is said at once.
        problems = {i: input_problem(p) for i, p in enumerate(paths)}
        good = [p for i, p in enumerate(paths) if problems[i] is None]
        predicted = iter(self._predict(good, args, env, instance) if good else ())
        results = [next(predicted) if problems[i] is None else
                   {"filename": os.path.basename(str(p)), "path": str(p), "error": problems[i]}
                   for i, p in enumerate(paths)]
        for result in results:
            if "error" in result:
                print(f"{result['path']}: {result['error']}", file=sys.stderr)
        if args.get("format") == "json":
            print(json.dumps(results, indent=2))
        else:
            text = format_text(results, compact=args.get("compact"))
            if text:
                print(text)
        return 1 if all("error" in r for r in results) else 0

    @staticmethod
    def _predict(paths, args, env, instance):
        """Results of the instance's predictor for files that passed the checks."""
        predictor = env.model().predictor(instance, env.settings)
        options = {o.name: args.get(o.name) for o in predictor.options}
        return predictor.predict_files(paths, top_k=args["labels"], **options)


def format_text(results, compact=False):
    """Render results as the original ``ml predict`` text output; an image rejected as
    unknown says so first (compact: ``unknown`` for the label)."""
    lines = []
    for result in results:
        if "error" in result:
            continue
        best = result["prediction"][0]["label"]
        if compact:
            lines.append(f"{result['path']}\t{'unknown' if result.get('unknown') else best}")
            continue
        if lines:
            lines.append("")
        lines.append(result["path"])
        if result.get("unknown"):
            lines.append(f"unknown: unlike the training images (score {result['ood_score']:.3g} over "
                         f"the threshold {result['threshold']:.3g}); nearest class {best}")
        lines.extend(f"{p['probability'] * 100:>6.2f}%    {p['label']}" for p in result["prediction"])
        if "heatmap" in result:
            lines.append(f"heatmap: {result['heatmap']}")
    return "\n".join(lines)
