"""The environment a command runs in: project paths, settings, instance."""
from pathlib import Path

from vergeml.plugins import registry as plugins
from vergeml.settings.project_settings import ProjectFile

DEFAULT_MODEL = "imagenet"


class Environment:
    """Everything a command needs besides its own options.

    Attributes:
        project_dir: the project directory (``--project-dir`` or the cwd).
        project: the parsed :class:`vergeml.settings.project_settings.ProjectFile` (may be empty).
        settings: resolved global options (canonical name -> value).
        instance_names: the ``@name`` arguments, without the ``@``.
        subcommand: the part after ``:`` in ``plot:roc`` (or None).
        model_name: the model plugin's name (imagenet unless configured otherwise).
        command_line: the options typed on the command line (canonical name ->
            value as typed), global and the command's: what a resumed run
            checks against its own settings.

    Args:
        instance: the first ``@name`` instance when already loaded (else it
            is loaded on first use of :meth:`instance`).
    """

    def __init__(self, project_dir, project=None, settings=None, instance_names=(),
                 subcommand=None, model_name=None, instance=None):
        self.project_dir = Path(project_dir)
        self.project = project or ProjectFile()
        self.settings = dict(settings or {})
        self.instance_names = list(instance_names)
        self.subcommand = subcommand
        self.model_name = model_name or DEFAULT_MODEL
        self._instance = instance
        self.command_line = {}

    def path(self, option):
        """A path setting (``samples-dir``, ``cache-dir``, ``trainings-dir``),
        resolved against the project directory."""
        return (self.project_dir / self.settings[option]).resolve()

    @property
    def samples_dir(self):
        return self.path("samples-dir")

    @property
    def cache_dir(self):
        return self.path("cache-dir")

    @property
    def trainings_dir(self):
        return self.path("trainings-dir")

    @property
    def random_seed(self):
        return self.settings.get("random-seed", 42)

    @property
    def data_config(self):
        """The raw ``data:`` section of the project file (validated by vergeml.data)."""
        data = self.project.data.get("data")
        return data if data is not None else {}

    def model(self):
        """The model plugin object (imagenet unless configured otherwise)."""
        return plugins.instantiate(plugins.MODELS, self.model_name)

    def instance(self):
        """The first ``@name`` instance, loaded from the trainings directory."""
        if self._instance is None and self.instance_names:
            from vergeml.instances import load_instance
            self._instance = load_instance(self.trainings_dir, self.instance_names[0])
        return self._instance
