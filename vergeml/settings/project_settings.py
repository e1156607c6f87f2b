"""Project configuration: global options and the project file (``vergeml.yaml``).

Precedence, per option: command line > ``vergeml.yaml`` > built-in default.
Errors name the file, line, column and option, show the bad value and what
is allowed, e.g. ``vergeml.yaml:4:18: train.learning-rate: expected a number
> 0, got "fast"``, followed by the line of the file with a caret under the
value (:mod:`vergeml.settings.locations`).
"""
from pathlib import Path


from vergeml.data.formats import CACHE_MODES
from vergeml.errors import ConfigError
from vergeml.settings.locations import (KeyLines, Mark, collect_lines, located, located_at,  # noqa: F401 - Mark: API
                               position)
from vergeml.settings.option import Option, OptionValueError
from vergeml.settings.option_set import OptionSet, parse_located
from vergeml.settings.project_dir import PROJECT_FILE, find_project_dir, find_project_file  # noqa: F401 - API
from vergeml.settings.spelling import canonical


DEVICE_PATTERN = (r"auto|cpu|gpu(:\d+)?", "auto, cpu, gpu or gpu:N")
MEMORY_PATTERN = (r"auto|(100|[1-9]?[0-9])%", "auto or a percentage such as 80%")
ENGINES = ("local", "ray")
# HOST:PORT, HOST a name, an IPv4 address or a bracketed IPv6 address.
RAY_ADDRESS = (r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):[0-9]{1,5}", "HOST:PORT")

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
    Option("random-seed", default=42, type="int",
           help="Seed for every random choice (splits, augmentation, training)."),
    Option("trainings-dir", default="trainings", metavar="DIR",
           help="Directory where trained instances are stored."),
    Option("cache", choices=CACHE_MODES,
           help="Cache mode: auto (= disk), none, disk, mem, disk-in or mem-in "
                "(default: data: cache: of the project file, else auto)."),
    Option("device", default="auto", metavar="DEVICE", pattern=DEVICE_PATTERN,
           help="Device to run on: auto, cpu, gpu or gpu:N (in the project file also "
                "device: {id: gpu:1, memory: 50%, grow-memory: true})."),
    Option("device-memory", default="auto", metavar="MEM", pattern=MEMORY_PATTERN,
           help="Share of the GPU's memory TensorFlow may take: auto (no cap) or a "
                "percentage such as 80% (docs/gpu.md)."),
    Option("engine", default="local", choices=ENGINES,
           help="Where backbone features are extracted: local, or ray (a Ray cluster, see "
                "docs/ray.md; needs pip install 'vergeml[ray]'). Training stays local."),
    Option("ray-address", default="auto", also=("auto",), metavar="ADDRESS", pattern=RAY_ADDRESS,
           help="The Ray cluster of --engine=ray: HOST:PORT of its head (ray start --head "
                "prints it), or auto (the cluster this machine has joined)."),
    Option("skip-bad-files", flag=True, type="bool", default=False,
           help="Skip unreadable or corrupt sample images with a warning instead of stopping."),
    Option("version", short="v", flag=True, type="bool", default=False, yaml=False,
           help="Print the version of VergeML and its libraries, then exit."),
    Option("help", short="h", flag=True, type="bool", default=False, yaml=False,
           help="Show help for ml or for the command, then exit."),
])

# The largest --random-seed: NumPy's legacy seeding (keras.utils.set_random_seed) takes 32 bits.
SEED_MAX = 2 ** 32 - 1
# How deep [ and { may nest in vergeml.yaml (real files use 2 or 3 levels).
MAX_NESTING = 64
# Global options naming a folder: never empty.
FOLDER_OPTIONS = ("samples-dir", "cache-dir", "trainings-dir")
# Top-level keys of vergeml.yaml that are not global options.
SECTION_KEYS = ("data",)

# The mapping form of device: in the project file.
DEVICE_OPTIONS = OptionSet([
    Option("id", default="auto", pattern=DEVICE_PATTERN, help="auto, cpu, gpu or gpu:N."),
    Option("memory", default="auto", pattern=MEMORY_PATTERN,
           help="Share of the GPU's memory TensorFlow may take: auto (no cap) or 80%."),
    Option("grow-memory", type="bool", default=True,
           help="Without a memory cap, allocate GPU memory as needed instead of all at start."),
])
# Global options applied only when a device is used (vergeml.runtimes.tensorflow_setup.load).
DEVICE_KEYS = ("device", "device-memory")


_NEW_DICT = object()  # default of ProjectFile's mappings: a fresh dict each time


class ProjectFile:
    """A parsed project file.

    Written out rather than a ``@dataclass`` (same constructor, repr and
    equality): importing :mod:`dataclasses` slowed every ``ml`` start.

    Attributes:
        path: where it was read from (None when there is no project file).
        data: the mapping it contains.
        lines: dotted key (``train.learning-rate``) -> ``(file name, line)``.
    """

    __match_args__ = ("path", "data", "lines")
    __hash__ = None  # mutable and compared by value, as a dataclass

    def __init__(self, path=None, data=_NEW_DICT, lines=_NEW_DICT):
        self.path = path
        self.data = {} if data is _NEW_DICT else data
        self.lines = {} if lines is _NEW_DICT else lines

    def __repr__(self):
        return f"ProjectFile(path={self.path!r}, data={self.data!r}, lines={self.lines!r})"

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return (self.path, self.data, self.lines) == (other.path, other.data, other.lines)
        return NotImplemented

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
        ConfigError: when the file cannot be read, is not UTF-8, has a YAML
            syntax error (with line and column), sets a key twice, nests too
            deeply, or is not a mapping.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read project file {path}: {err.strerror or err}") from None
    text = _decode(raw, path.name)
    try:
        node, data = _parse_yaml(text, path.name)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path.name}: the project file must be a mapping of keys to values")
        lines = KeyLines(text=text.splitlines())
        collect_lines(node, "", path.name, lines, set())
        return ProjectFile(path=path, data=_canonical_keys(data, memo={}), lines=lines)
    except RecursionError:  # [[[[... a few thousand deep: PyYAML and the walks here recurse
        raise ConfigError(f"{path.name}: nested too deeply to be a project file") from None


def _decode(raw, filename):
    """The text of the project file; anything but UTF-8 is an error located at the first bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line, column = position(raw, err.start)
        text = raw.decode("utf-8", errors="replace").splitlines()
        message = located_at(filename, line, column, f"not UTF-8 text: byte 0x{raw[err.start]:02x} "
                                                     "cannot be decoded", text)
        raise ConfigError(message, hint="Save the project file as UTF-8 and try again.") from None


def _parse_yaml(text, filename):
    """``(node, data)``: the composed node tree (for positions) and the loaded value.

    Raises:
        ConfigError: a syntax error, located (one line, with an excerpt).
    """
    import yaml
    hint = "Fix the YAML syntax of the project file and try again."
    _check_nesting(text, filename)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        try:
            return node, yaml.safe_load(text)
        except (ValueError, OverflowError) as err:  # a scalar YAML resolves but Python refuses
            raise _bad_scalar(node, filename, text, err) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        message = f"syntax error: {err.problem or err.context or 'invalid YAML'}"
        message = located_at(filename, mark.line, mark.column, message, text.splitlines()) \
            if mark else f"{filename}: {message}"
        raise ConfigError(message, hint=hint) from None
    except yaml.reader.ReaderError as err:  # a character YAML does not allow (NUL, most controls)
        line, column = position(text, err.position)
        message = f"syntax error: character {chr(err.character)!r} is not allowed in YAML"
        raise ConfigError(located_at(filename, line, column, message, text.splitlines()),
                          hint=hint) from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{filename}: syntax error: {' '.join(str(err).split())}", hint=hint) from None


def _check_nesting(text, filename):
    """Refuse ``[[[[...`` deeper than :data:`MAX_NESTING` before PyYAML reads it: its scanner
    takes quadratic time in the depth (10,000 brackets: over a minute)."""
    if text.count("[") + text.count("{") <= MAX_NESTING:  # every real file: no walk
        return
    depth = 0
    for index, char in enumerate(text):
        depth += (char in "[{") - (char in "]}")
        if depth > MAX_NESTING:
            line, column = position(text, index)
            raise ConfigError(located_at(filename, line, column, f"nested deeper than {MAX_NESTING} "
                                         "levels: not a project file", text.splitlines()))


def _bad_scalar(node, filename, text, err):
    """The ConfigError for a value such as ``2020-13-45`` (a date with month 13) or an
    integer of 5,000 digits, located at the first scalar that cannot be constructed."""
    import yaml
    loader = yaml.SafeLoader("")
    stack = [node]
    while stack:
        item = stack.pop(0)
        if isinstance(item, yaml.ScalarNode):
            try:
                loader.construct_object(item)
            except (ValueError, OverflowError):
                mark = item.start_mark
                return ConfigError(located_at(filename, mark.line, mark.column,
                                              f"cannot read the value {item.value[:40]!r}", text.splitlines()))
        elif isinstance(item, yaml.MappingNode):
            stack.extend(n for pair in item.value for n in pair)
        elif isinstance(item, yaml.SequenceNode):
            stack.extend(item.value)
    return ConfigError(f"{filename}: cannot read a value: {str(err).split(';')[0]}")


def _canonical_keys(data, top=True, memo=None):
    """Spell option keys with hyphens (``learning_rate`` -> ``learning-rate``).

    The ``data`` section is left as written: its keys include class names.
    ``memo`` (id -> converted mapping) keeps a mapping shared by YAML aliases
    shared, instead of converting it once per reference.
    """
    if not isinstance(data, dict):
        return data
    memo = {} if memo is None else memo
    if id(data) not in memo:
        memo[id(data)] = {canonical(k): (v if top and k == "data" else _canonical_keys(v, False, memo))
                          for k, v in data.items()}
    return memo[id(data)]


def resolve_globals(command_line, project):
    """Merge the global options: command line > project file > defaults.

    Args:
        command_line: global options typed on the command line.
        project: the :class:`ProjectFile`.

    Returns:
        dict of canonical option name to validated value.
    """
    top = {k: v for k, v in project.data.items() if k in GLOBAL_OPTIONS and k not in DEVICE_KEYS}
    typed = {k: v for k, v in command_line.items() if k not in DEVICE_KEYS}
    settings = GLOBAL_OPTIONS.resolve(typed, top, lines=project.lines, hint="See 'ml help options'.")
    problems = {name: path_problem(settings[name], "a directory") for name in FOLDER_OPTIONS}
    problems["random-seed"] = _seed_problem(settings["random-seed"])
    for name, problem in problems.items():
        if problem:
            message = f"--{name}: {problem}" if name in typed \
                else located(project.lines, name, f"{name}: {problem}")
            raise ConfigError(message, hint="See 'ml help options'.")
    settings.update(resolve_device(command_line, project))
    return settings


def _seed_problem(seed):
    """Why ``seed`` cannot seed NumPy and Keras (they take 0 .. 2**32 - 1), or None.

    Checked here, with the other settings: otherwise a negative seed failed only after
    TensorFlow had loaded.
    """
    if 0 <= seed <= SEED_MAX:
        return None
    return f"expected an integer between 0 and {SEED_MAX}, got {seed}"


def path_problem(value, what):
    """What is wrong with a path setting that names no file (empty, blank, a NUL character), or None.

    An empty path would silently mean the current directory, and no file name
    can hold a NUL (the operating system refuses it).

    Args:
        value: the setting.
        what: what it should be, e.g. ``a directory``.

    Returns:
        ``expected <what>, got ''``, or None when the value is fine.
    """
    text = str(value)
    if text.strip() and "\0" not in text:
        return None
    return f"expected {what}, got {text!r}"


def resolve_device(command_line, project):
    """The device settings: ``--device`` > ``device:`` (a name or a mapping) > auto.

    Nothing is raised here: commands that use no device must not fail on a
    device setting. A bad setting is kept as ``device-error`` and raised by
    :func:`device_settings` when a device is used.

    Returns:
        dict with ``device``, ``device-memory``, ``device-grow-memory`` and,
        when a setting is bad, ``device-error`` (a located :class:`ConfigError`).
    """
    settings = {"device": "auto", "device-memory": "auto", "device-grow-memory": True}
    try:
        values = _device_values(project)
        for flag, name in (("device", "id"), ("device-memory", "memory")):
            if command_line.get(flag) is not None:
                values[name] = _parse_typed(GLOBAL_OPTIONS.get(flag), command_line[flag], flag)
        settings.update({"device": values["id"], "device-memory": values["memory"],
                         "device-grow-memory": values["grow-memory"]})
    except ConfigError as error:
        settings["device-error"] = error
    return settings


def _device_values(project):
    """``id``, ``memory``, ``grow-memory`` as the project file sets them (defaults filled in)."""
    raw, lines = project.data.get("device"), project.lines
    if isinstance(raw, dict):
        values = DEVICE_OPTIONS.resolve({}, raw, where="device", lines=lines)
    elif isinstance(raw, list):
        raise ConfigError(located(lines, "device", "device: expected auto, cpu, gpu or gpu:N, or a "
                                                   "mapping with id, memory and grow-memory"))
    else:
        values = DEVICE_OPTIONS.defaults()
        if raw is not None:
            values["id"] = parse_located(DEVICE_OPTIONS.get("id"), raw, "device", lines)
    if project.data.get("device-memory") is not None:
        if isinstance(raw, dict) and "memory" in raw:
            raise ConfigError(located(lines, "device-memory", "device-memory: already set as "
                                      "device.memory; set it once", key=True))
        values["memory"] = parse_located(DEVICE_OPTIONS.get("memory"), project.data["device-memory"],
                                         "device-memory", lines)
    return values


def _parse_typed(option, raw, flag):
    """A device value typed as ``--flag`` (or passed in settings under that name)."""
    try:
        return option.parse(raw)
    except OptionValueError as err:
        raise ConfigError(f"--{flag}: {err}", hint="See 'ml help device'.") from None


def device_settings(settings):
    """The validated device settings of :func:`resolve_device`, for :mod:`vergeml.runtimes.tensorflow_setup`.

    Args:
        settings: resolved global options (``env.settings``).

    Returns:
        dict with ``id``, ``memory`` and ``grow-memory``.

    Raises:
        ConfigError: the device setting is bad (located in the project file).
    """
    if settings.get("device-error") is not None:
        raise settings["device-error"]
    keys = {"id": "device", "memory": "device-memory", "grow-memory": "device-grow-memory"}
    return {option.name: _parse_typed(option, settings.get(keys[option.name], option.default),
                                      keys[option.name])
            for option in DEVICE_OPTIONS}


def check_top_level_keys(project, section_names):
    """Reject unknown top-level keys of the project file with a suggestion.

    Args:
        project: the :class:`ProjectFile`.
        section_names: callable returning the names that may appear as
            sections (commands, models); called only when needed.
    """
    from vergeml.settings.suggest import suggestion
    allowed = [o.name for o in GLOBAL_OPTIONS if o.yaml] + list(SECTION_KEYS)
    if any(key not in allowed for key in project.data):
        allowed += list(section_names())
    for key in project.data:
        if key not in allowed:
            raise ConfigError(located(project.lines, key,
                                      f"unknown option {key}.{suggestion(key, allowed)}", key=True))
