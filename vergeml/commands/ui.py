"""``ml ui`` (and ``ml run:ui``): the local web page of a project's runs, images and data.

The page itself is :mod:`vergeml.services.ui` (docs/ui.md); these are the thin
command adapters: the options, the project's folders, and the model plugin's
predictor for the pages that run a model.
"""
import os

from vergeml.commands.command_base import NO_INSTANCE, Command
from vergeml.doctor.review import DEFAULT_PATH as DEFAULT_REVIEW
from vergeml.errors import UsageError
from vergeml.settings.option import Option


class UiCommand(Command):
    """Serve the project's runs, test images, doctor findings and a try-it page locally."""

    name = "ui"
    instance = NO_INSTANCE
    description = "Open a local web page of the runs, the images behind their numbers, and the data."
    long_help = (
        "Runs: the ml list table (sort, filter, compare runs). A run: results, learning\n"
        "curves, the confusion matrix with each cell's images, the most confidently wrong\n"
        "images, ROC/PR curves, heatmaps. Data: the findings of ml doctor --review, with\n"
        "keep/remove/relabel written to the review file. Try it: drop images on a run.\n"
        "Listens on 127.0.0.1 only unless --host says otherwise; an address other\n"
        "machines reach prints a URL with a token that every request needs. Also\n"
        "reachable as ml run:ui."
    )
    options = (
        Option("host", default="127.0.0.1", metavar="HOST",
               help="Interface to listen on; one reachable from other machines (not 127.x, "
                    "localhost or ::1) needs the printed URL's token."),
        Option("port", default=2205, type="int", rule="0..65535",
               help="TCP port to listen on (0 picks a free one)."),
        Option("no-browser", type="bool", flag=True, default=False,
               help="Do not open the page in a web browser."),
        Option("review", default=DEFAULT_REVIEW, metavar="FILE",
               help="The review file of ml doctor --review the data page shows and edits "
                    "(relative to the project)."),
        Option("max-upload", default=20, type="float", rule=">0", metavar="MB",
               help="Largest upload on the try-it page, in MB (larger ones get 413)."),
        Option("threads", default=4, type="int", rule=">0", help="Worker threads of the server."),
    )
    examples = ("ml ui", "ml ui --port=8080 --no-browser",
                "ml ui --review=doctor/review.csv", "ml run:ui")

    def run(self, args, env):
        """Serve until Ctrl-C."""
        from vergeml.services.ui.ui_server import serve
        if env.project.path is None and not env.samples_dir.is_dir():
            raise UsageError(f"not in a project: no vergeml.yaml in {env.project_dir} or a "
                             "folder above it, and no samples folder",
                             hint="Run ml ui inside a project (ml new <dir> makes one).")
        project = os.path.abspath(env.project_dir)
        paths = {"project_dir": project, "samples_dir": str(env.samples_dir),
                 "cache_dir": str(env.cache_dir), "trainings_dir": str(env.trainings_dir),
                 "review_path": os.path.join(project, args["review"])}
        serve(paths, lambda instance: env.model().predictor(instance, env.settings),
              host=args["host"], port=args["port"], threads=args["threads"],
              max_upload_mb=args["max-upload"], browser=not args["no-browser"])
        return 0


class UiService(UiCommand):
    """The ``run:ui`` service plugin: the same page, in the original's service form."""
