"""``ml new <dir>``: scaffold a project folder."""
from pathlib import Path

from vergeml.commands.command_base import Command
from vergeml.settings.project_settings import PROJECT_FILE
from vergeml.errors import UsageError, VergeMLError
from vergeml.fileutil import atomic_write_text
from vergeml.settings.option import Option

GITIGNORE = ".cache/\ntrainings/\n"


class NewCommand(Command):
    """Create a project: vergeml.yaml, samples/ and a .gitignore."""

    name = "new"
    description = "Create a new project folder."
    options = (
        Option("directory", positional=True, nargs="?", metavar="DIR",
               help="Folder of the new project (created if missing)."),
        Option("force", flag=True, type="bool", default=False,
               help="Overwrite an existing vergeml.yaml."),
    )
    examples = ("ml new cats-vs-dogs", "ml --model=imagenet new my-project")

    def run(self, args, env):
        target = args.get("directory")
        if not target:
            raise UsageError("missing the project folder: ml new <dir>", hint="See 'ml help new'.")
        folder = (env.project_dir / target) if not Path(target).is_absolute() else Path(target)
        project_file = folder / PROJECT_FILE
        if project_file.exists() and not args["force"]:
            raise UsageError(f"{project_file} already exists", hint="Use --force to overwrite it.")
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"{folder} exists and is not a folder")
        try:
            (folder / "samples").mkdir(parents=True, exist_ok=True)
            atomic_write_text(project_file, env.model().project_template())
            if not (folder / ".gitignore").exists():
                atomic_write_text(folder / ".gitignore", GITIGNORE)
        except OSError as err:
            raise VergeMLError(f"cannot create the project in {folder}: "
                               f"{err.strerror or err}") from None
        print(f"Created new project: {target}")
        print(f"Put images into {target}/samples/<class>/, then run 'ml train' inside {target}.")
        return 0
