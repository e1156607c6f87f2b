"""Project configuration: global options and the project file (``vergeml.yaml``).

Precedence, per option: command line > ``vergeml.yaml`` > built-in default.
Errors name the file, line and option, show the bad value and what is
allowed, e.g. ``vergeml.yaml:4: train.learning-rate: expected a number > 0,
got "fast"``.
"""
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from vergeml.data.formats import CACHE_MODES
from vergeml.errors import ConfigError
from vergeml.options import Option, OptionSet, located
from vergeml.spelling import canonical

PROJECT_FILE = "vergeml.yaml"

GLOBAL_OPTIONS = OptionSet([
    Option("model", short="m", help="Name of the model plugin to use (default: from the project file, else imagenet)."),
    Option("file", short="f", yaml=False, metavar="PATH",
           help="Path to the project file (default: vergeml.yaml in the project directory)."),
    Option("project-dir", yaml=False, metavar="DIR",
           help="Project directory (default: the current directory)."),
    Option("samples-dir", default="samples", metavar="DIR",
           help="Directory with the training samples, one sub-folder per class."),
    Option("val-split", default="10%", metavar="SPLIT",
           help="Validation split: a percentage (10%), a count (100) or a directory."),
    Option("test-split", default="10%", metavar="SPLIT",
           help="Test split: a percentage (10%), a count (100) or a directory."),
    Option("cache-dir", default=".cache", metavar="DIR",
           help="Directory where preprocessed samples and features are cached."),
    Option("random-seed", default=42, type="int", help="Seed for every random choice (splits, augmentation, training)."),
    Option("trainings-dir", default="trainings", metavar="DIR",
           help="Directory where trained instances are stored."),
    Option("cache", choices=CACHE_MODES,
           help="Cache mode: auto (= disk), none, disk, mem, disk-in or mem-in "
                "(default: data: cache: of the project file, else auto)."),
    Option("device", default="auto", metavar="DEVICE", pattern=(r"auto|cpu|gpu(:\d+)?", "auto, cpu, gpu or gpu:N"),
           help="Device to run on: auto, cpu, gpu or gpu:N."),
    Option("device-memory", default="auto", metavar="MEM",
           pattern=(r"auto|(100|[1-9]?[0-9])%", "auto or a percentage such as 80%"),
           help="Share of GPU memory: auto or a percentage such as 80% (accepted for "
                "compatibility; memory is allocated as needed, with no hard cap)."),
    Option("skip-bad-files", flag=True, type="bool", default=False,
           help="Skip unreadable or corrupt sample images with a warning instead of stopping."),
    Option("version", short="v", flag=True, type="bool", default=False, yaml=False,
           help="Print the version of VergeML and its libraries, then exit."),
    Option("help", short="h", flag=True, type="bool", default=False, yaml=False,
           help="Show help for ml or for the command, then exit."),
])

# Top-level keys of vergeml.yaml that are not global options.
SECTION_KEYS = ("data",)


@dataclass
class ProjectFile:
    """A parsed project file.

    Attributes:
        path: where it was read from (None when there is no project file).
        data: the mapping it contains.
        lines: dotted key (``train.learning-rate``) -> ``(file name, line)``.
    """

    path: Path = None
    data: dict = field(default_factory=dict)
    lines: dict = field(default_factory=dict)

    def section(self, *keys):
        """Return a nested mapping such as ``section('run', 'rest')`` (empty if absent)."""
        node = self.data
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else {}


def load_project_file(path):
    """Read and parse a project file.

    Args:
        path: path of ``vergeml.yaml``.

    Returns:
        A :class:`ProjectFile`.

    Raises:
        ConfigError: when the file cannot be read, has a YAML syntax error
            (with line and column), or is not a mapping.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read project file {path}: {err.strerror or err}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path.name}:{mark.line + 1}:{mark.column + 1}" if mark else path.name
        problem = err.problem or err.context or "invalid YAML"
        raise ConfigError(f"{where}: syntax error: {problem}",
                          hint="Fix the YAML syntax of the project file and try again.") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path.name}: syntax error: {err}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}: the project file must be a mapping of keys to values")
    lines = {}
    _collect_lines(node, "", path.name, lines)
    return ProjectFile(path=path, data=_canonical_keys(data), lines=lines)


def _collect_lines(node, prefix, filename, lines):
    """Record the line of every mapping key, in both spellings."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            dotted = f"{prefix}.{key}" if prefix else key
            spelled = ".".join(canonical(p) for p in dotted.split("."))
            lines[dotted] = lines[spelled] = (filename, key_node.start_mark.line + 1)
            _collect_lines(value_node, spelled, filename, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _collect_lines(item, f"{prefix}.{index}", filename, lines)


def _canonical_keys(data, top=True):
    """Spell option keys with hyphens (``learning_rate`` -> ``learning-rate``).

    The ``data`` section is left as written: its keys include class names.
    """
    if not isinstance(data, dict):
        return data
    return {canonical(k): (v if top and k == "data" else _canonical_keys(v, False))
            for k, v in data.items()}


def find_project_file(project_dir, explicit=None):
    """Locate the project file.

    Args:
        project_dir: the project directory.
        explicit: a path given with ``--file`` (must exist).

    Returns:
        The path, or None when there is no project file (which is fine for
        commands that do not need one).
    """
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"project file not found: {explicit}")
        return path
    path = Path(project_dir) / PROJECT_FILE
    return path if path.is_file() else None


def resolve_globals(command_line, project):
    """Merge the global options: command line > project file > defaults.

    Args:
        command_line: global options typed on the command line.
        project: the :class:`ProjectFile`.

    Returns:
        dict of canonical option name to validated value.
    """
    top = {k: v for k, v in project.data.items() if k in GLOBAL_OPTIONS}
    return GLOBAL_OPTIONS.resolve(command_line, top, lines=project.lines)


def check_top_level_keys(project, section_names):
    """Reject unknown top-level keys of the project file with a suggestion.

    Args:
        project: the :class:`ProjectFile`.
        section_names: callable returning the names that may appear as
            sections (commands, models); called only when needed.
    """
    from vergeml.suggest import suggestion
    allowed = [o.name for o in GLOBAL_OPTIONS if o.yaml] + list(SECTION_KEYS)
    if any(key not in allowed for key in project.data):
        allowed += list(section_names())
    for key in project.data:
        if key not in allowed:
            raise ConfigError(located(project.lines, key,
                                      f"unknown option {key}.{suggestion(key, allowed)}"))
