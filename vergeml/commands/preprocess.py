"""``ml preprocess``: write the samples after the preprocessing operations to a folder.

The writing is done by :mod:`vergeml.data.preprocess_export`.
"""
from pathlib import Path

from vergeml.commands.command_base import Command
from vergeml.settings.option import Option


class PreprocessCommand(Command):
    name = "preprocess"
    description = "Apply the data.preprocess operations and write the resulting images to a folder."
    long_help = ("Runs the operations configured under data.preprocess in vergeml.yaml on the "
                 "samples and writes the images to <directory>/<split>/<label>/, so you can look "
                 "at what the model will see.")
    examples = ("ml preprocess", "ml preprocess --split=val -n 20 preview")
    options = (
        Option("split", default="all", choices=("train", "val", "test", "all"),
               help="Which split to write."),
        Option("num-samples", short="n", type="int", rule=">0", metavar="N",
               help="Write at most N samples per split (default: all)."),
        Option("directory", default="pre", positional=True, nargs="?", metavar="DIR",
               help="Output directory, relative to the project directory."),
    )

    def run(self, args, env):
        # Imported here: the writer needs NumPy and tqdm, which 'ml help' must not load.
        from vergeml.data.preprocess_export import export_samples
        out = Path(env.project_dir, args.get("directory") or "pre")
        splits = ("train", "val", "test") if args.get("split", "all") == "all" else (args["split"],)
        export_samples(env, out, splits, args.get("num-samples"))
        return 0
