"""The text of ``ml help``: overview, command pages, option tables, topics, the glossary.

Kept apart from :mod:`vergeml.commands.help` so the docs generator and
``ml --version`` can share it. It must stay free of heavy imports (NumPy,
TensorFlow, ...): ``ml help`` has to start fast, and it only loads plugin
classes, which declare their options without importing their libraries.
"""
import platform
import shutil
import textwrap

from vergeml import __version__
from vergeml.cli import glossary
from vergeml.plugins import registry as plugins
from vergeml.commands.command_base import ANY_INSTANCES, ONE_INSTANCE, OPTIONAL_INSTANCE, lookup
from vergeml.settings.project_settings import GLOBAL_OPTIONS
from vergeml.errors import UsageError
from vergeml.settings.spelling import canonical
from vergeml.settings.suggest import suggestion

TOPICS = {
    "data": "Samples are read from the samples folder (samples/<class>/*.jpg) and split into "
            "train, val and test. Configure the data: section of vergeml.yaml with "
            "input (the source type), preprocess (a list of operations such as resize or "
            "flip-horizontal) and cache. See 'ml help input', 'ml help preprocessing' and "
            "'ml help cache'.",
    "input": "data: input: type: labeled-image reads samples/<class>/ folders (the default "
             "for the imagenet model); image reads unlabeled images; mnist reads MNIST-format "
             "IDX files. data: output: type: labeled-image-features makes ml preprocess write "
             "feature vectors. Run 'ml help labeled-image' for a source's options.",
    "preprocessing": "data: preprocess: is a list of operations applied in order to every "
                  "sample, e.g. - {op: resize, width: 128, height: 128}. Operations: {ops}. "
                  "Run 'ml help <operation>' for its options.",
    "cache": "--cache (or data: cache:) chooses what is cached: auto or disk (default) keeps "
             "features on disk under the cache dir, mem keeps them in memory for this run, "
             "disk-in and mem-in cache the preprocessed input images instead, none caches "
             "nothing. The cache is keyed by a fingerprint of each sample and of the "
             "preprocessing, so changed data is never served stale.",
    "split": "--val-split and --test-split take a percentage (10%), a count (100) or a "
             "directory holding <class>/ folders. A percentage applies to each class, a "
             "count to all; the assignment is remembered in vergeml.splits.json, so added "
             "images never move a val or test image to training. See docs/data.md.",
    "output": "data: output: type: chooses what ml preprocess writes: labeled-image or image "
              "(the processed images, the default) or labeled-image-features / image-features "
              "(one .npy feature vector per sample, computed by the network set under train:). "
              "ml train always trains on cached features. Run 'ml help labeled-image-features'.",
    "tutorial": "Start with 'ml new my-project', put images into my-project/samples/<class>/, "
                "then run 'ml train' inside it, 'ml list' to compare runs and "
                "'ml @<name> predict photo.jpg' to use one. 'make demo' in the source tree runs "
                "all of it on the digits data set; docs/ has a page per command.",
    "random robot": "Every training run gets a robot name such as nervous-tron or "
                    "optimum-neuron: an adjective and a robot, unique in the trainings folder. "
                    "Use it as @name in later commands, or choose one with ml train --name.",
    "device": "--device selects auto, cpu, gpu or gpu:N (card N as nvidia-smi numbers it, the "
              "only one TensorFlow then sees). --device-memory=50% caps what TensorFlow may "
              "allocate at half the card's memory; auto sets no cap, and memory is allocated "
              "as needed. ml train names the device in its first lines. In vergeml.yaml write "
              "device: gpu:1, or the mapping device: {id: gpu:1, memory: 50%, grow-memory: true} "
              "(grow-memory: false reserves the GPU's memory at start); --device and "
              "--device-memory on the command line win. The setting is checked only by "
              "commands that run a model. GPU set-up: docs/gpu.md.",
}
# Topics of 'ml help' besides commands, plugins and glossary terms, in the order 'ml help -a' lists them.
GENERAL = {"options": "Global options such as --samples-dir and --cache.",
           "glossary": "Definitions of hyperparameters and metrics.",
           "models": "The installed model plugins.",
           "data": "Samples, splits, preprocessing and the cache."}
# One line per topic of TOPICS, for 'ml help -a'.
TOPIC_SUMMARIES = {"input": "The data sources: labeled-image, image, mnist.",
                   "preprocessing": "The operations of data: preprocess: and their order.",
                   "cache": "What is cached, where, and when it is rebuilt.",
                   "split": "How samples are split into train, val and test.",
                   "output": "What ml preprocess writes: images or feature vectors.",
                   "tutorial": "A first project, from ml new to ml predict.",
                   "random robot": "How training runs are named.",
                   "device": "CPU, GPU and GPU memory settings."}
# Headings of the sub-command groups in 'ml help -a'.
SUBCOMMAND_HEADINGS = {plugins.DOWNLOADS: "Downloads", plugins.PLOTS: "Plots",
                       plugins.SERVICES: "Services"}
HEADER = "Usage: ml [--version] [--file=<path>] [--model=<name>] [<global options>]\n" \
         "          [@instance] <command>[:<sub>] [<options>] [<args>]"


def width():
    """Text width: the terminal's, capped for readability."""
    return max(40, min(shutil.get_terminal_size((100, 24)).columns, 120))


def wrap(text, indent=0, first=None):
    """Wrap a paragraph to the terminal width."""
    pad = " " * indent
    return textwrap.fill(text, width(), initial_indent=pad if first is None else first,
                         subsequent_indent=pad, break_on_hyphens=False)


def print_version():
    """Print the versions of VergeML and of the main libraries (without importing TF)."""
    from importlib.metadata import PackageNotFoundError, version
    print(f"VergeML {__version__}")
    print(f"Python {platform.python_version()}")
    for package in ("numpy", "tensorflow-cpu", "tensorflow", "keras", "pillow"):
        try:
            print(f"{package} {version(package)}")
        except PackageNotFoundError:
            pass


def show_default(value):
    """A default as the user would type it: ``a,b`` for lists, ``true``/``false`` for bools."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def option_rows(options):
    """``(left, right)`` column pairs describing options, as ``ml help`` shows them."""
    rows = []
    for option in options:
        if option.positional:
            left = f"<{option.name}>" + (" ..." if option.nargs in ("*", "+") else "")
        else:
            short = f"-{option.short}, " if option.short else "    "
            left = f"{short}--{option.name}" + ("" if option.flag else f"=<{option.metavar or option.type}>")
        rows.append((left, _explained(option, option.help, show=not option.flag)))
    return rows


def yaml_rows(options):
    """``(left, right)`` pairs describing options as project-file keys (``width: <int>``)."""
    return [(f"{o.name}: <{o.metavar or o.type}>",
             _explained(o, o.help + (" Required." if o.required else ""), show=True)) for o in options]


def _explained(option, text, show):
    """``text`` with the default (when ``show``) and the allowed values."""
    if show and option.default is not None:
        text += f" [default: {show_default(option.default)}]"
    if option.choices or option.rule or option.also:
        text += f" ({option.describe()})"
    return text


def format_rows(rows, indent=2):
    """Two-column text table, right column wrapped to the terminal width."""
    if not rows:
        return ""
    left_width = min(max(len(left) for left, _ in rows) + 3, 36)
    if width() - indent - left_width < 40:  # narrow terminal: descriptions go below
        left_width = 6
    lines = []
    for left, right in rows:
        pad = " " * (indent + left_width)
        first = (" " * indent + left).ljust(indent + left_width)
        if len(first) > indent + left_width:
            lines.append(" " * indent + left)
            first = pad
        lines.append(textwrap.fill(right, width(), initial_indent=first, subsequent_indent=pad,
                                   break_on_hyphens=False))
    return "\n".join(lines)


def usage_line(command, sub=None):
    """``ml [@instance] name[:sub] [options] <args>``."""
    name = command.name + (f":{sub}" if sub else (":<type>" if command.subcommands else ""))
    options = list(command.options)
    arity = command.instance
    if sub and command.subcommands:
        plugin = plugins.instantiate(command.subcommands, sub)
        options += list(plugin.options)
        arity = plugin.instance
    at = {ONE_INSTANCE: "@instance ", OPTIONAL_INSTANCE: "[@instance] ",
          ANY_INSTANCES: "[@instance ...] "}.get(arity, "")
    args = " ".join(f"<{o.name}>" + (" ..." if o.nargs in ("*", "+") else "")
                    for o in options if o.positional)
    return f"ml {at}{name} [options] {args}".rstrip(), options


def command_help(command, sub=None):
    """Full help text of a command (or ``command:sub``)."""
    usage, options = usage_line(command, sub)
    # A sub-command (plot:roc) describes itself; its examples win when it has some.
    plugin = plugins.instantiate(command.subcommands, sub) if sub and command.subcommands else None
    description = plugin.description if plugin else command.description
    examples = (plugin and plugin.examples) or command.examples
    parts = [wrap(description), ""]
    if command.long_help:
        parts += [wrap(p) for p in command.long_help.strip().split("\n\n")] + [""]
    parts += ["Usage:", f"  {usage}", ""]
    if options:
        parts += ["Options:", format_rows(option_rows(options)), ""]
    if command.subcommands and not sub:
        subs = [(f"{command.name}:{n}", d) for n, d in _plugin_rows(command.subcommands)]
        parts += ["Types:", format_rows(subs), ""]
    if examples:
        parts += ["Examples:"] + [f"  {e}" for e in examples] + [""]
    flag = next((o.name for o in options if o.flag), None)
    if flag:
        parts += [wrap(f"A flag may take a value: --{flag}=yes or --{flag}=no (also true/false, "
                       "on/off, 1/0)."), ""]
    parts.append("Global options (ml help options) may be given too.")
    return "\n".join(parts)


def _commands(env):
    """``(name, command)`` pairs: built-in commands, then model commands."""
    builtin = [(n, _instance(c)) for n, c in plugins.available(plugins.COMMANDS)]
    model = env.model()
    model_cmds = sorted((model.commands() if model else {}).items())
    return builtin, [(n, c()) for n, c in model_cmds]


def overview(env):
    """The text of plain ``ml help``."""
    builtin, model_cmds = _commands(env)
    parts = [HEADER, "", f"Current model: {env.model_name}", "",
             "General help:", format_rows(list(GENERAL.items())), "",
             "Commands:", format_rows([(n, c.description) for n, c in builtin]), "",
             "Model commands:", format_rows([(n, c.description) for n, c in model_cmds]), "",
             wrap("See 'ml help <command>' or 'ml help <topic>' to read about a command or "
                  "topic, e.g. 'ml help train' or 'ml help learning-rate'; 'ml help -a' lists "
                  "every topic.")]
    return "\n".join(parts)


def all_topics(env):
    """The text of ``ml help -a``: every topic ``ml help`` knows, by kind."""
    builtin, model_cmds = _commands(env)
    sections = [("Commands", [(n, c.description) for n, c in builtin]),
                ("Model commands", [(n, c.description) for n, c in model_cmds]),
                ("Help topics", list({**GENERAL, **TOPIC_SUMMARIES}.items()))]
    for _, command in builtin:
        if command.subcommands:
            heading = SUBCOMMAND_HEADINGS.get(command.subcommands, f"{command.name}:<type>")
            sections.append((heading, [(f"{command.name}:{n}", d)
                                       for n, d in _plugin_rows(command.subcommands)]))
    sections.append(("Global options", [(f"--{o.name}", o.help) for o in GLOBAL_OPTIONS]))
    parts = []
    for heading, rows in sections:
        parts += [f"{heading}:", format_rows(rows) or "  (none)", ""]
    # Names only: loading the operation and source classes would import Pillow and NumPy.
    for heading, names in (("Operations", _registered(plugins.OPERATIONS)),
                           ("Data sources and outputs", _registered(plugins.SOURCES)),
                           ("Glossary", sorted(glossary.GLOSSARY))):
        parts += [f"{heading}:", wrap(", ".join(names) or "(none)", indent=2), ""]
    return "\n".join(parts).rstrip()


def _plugin_rows(group):
    return [(n, _instance(p).description) for n, p in plugins.available(group)]


def _instance(plugin):
    return plugin() if isinstance(plugin, type) else plugin


def _registered(group):
    """Names registered in an entry-point group, without importing the plugins."""
    return plugins.names(group)


def glossary_text():
    """All glossary entries."""
    parts = ["Glossary:", ""]
    for term, text in sorted(glossary.GLOSSARY.items()):
        parts += [term, wrap(text, indent=4), ""]
    return "\n".join(parts).rstrip()


def plugin_help(kind, plugin):
    """Help of an operation or data source: description and options."""
    if getattr(plugin, "role", "") == "output":
        kind = "data output"
    return "\n".join([f"{kind}: {plugin.name}", "", wrap(plugin.description), "",
                      "Keys (in vergeml.yaml):", format_rows(yaml_rows(plugin.options)) or "  (none)"])


def command_option_help(topic, env):
    """The options named ``topic`` of every command, model commands first, or ''.

    ``ml help augment`` -> ``Option of ml train:`` and the ``--augment`` row.
    """
    name = canonical(topic)
    builtin, model_cmds = _commands(env)
    parts = []
    for command_name, command in model_cmds + builtin:
        option = next((o for o in command.options if not o.positional and
                       name in (o.name, *o.aliases)), None)
        if option is not None:
            parts.append(f"Option of ml {command_name}:\n" + format_rows(option_rows([option])))
    return "\n\n".join(parts)


def find_topic(topic, env):
    """Resolve a help topic to its text.

    Raises:
        UsageError: for an unknown topic, with a did-you-mean suggestion.
    """
    name, _, sub = topic.partition(":")
    found = lookup(name, env) if name else None
    if found is not None:
        command = _instance(found)
        if sub and (not command.subcommands or plugins.load(command.subcommands, sub) is None):
            raise UsageError(f"no help found for topic '{topic}'")
        return command_help(command, sub or None)
    model = env.model()
    text = model.help_topic(topic) if model and hasattr(model, "help_topic") else None
    if text:
        return text
    if topic == "options":
        return "Global options:\n" + format_rows(option_rows(o for o in GLOBAL_OPTIONS))
    if topic == "glossary":
        return glossary_text()
    if topic == "models":
        return "Models:\n" + format_rows(_plugin_rows(plugins.MODELS))
    if topic in TOPICS:
        ops = ", ".join(plugins.names(plugins.OPERATIONS))
        return wrap(TOPICS[topic].replace("{ops}", ops))
    option = GLOBAL_OPTIONS.get(topic) or next(
        (o for o in GLOBAL_OPTIONS if o.short and topic == f"-{o.short}"), None)
    if option is not None:  # before the operations, which import Pillow
        return format_rows(option_rows([option]))
    found = glossary.lookup(topic)
    if found:
        return f"{found[0]}\n\n{wrap(found[1], indent=4)}"
    # An operation or source, then every command option of that name (augment is both
    # an operation and ml train --augment; resize an operation and a train/predict option).
    sections = [plugin_help(kind, plugins.instantiate(group, topic))
                for group, kind in ((plugins.OPERATIONS, "operation"), (plugins.SOURCES, "data source"))
                if topic in plugins.names(group)] + [command_option_help(topic, env)]
    if any(sections):
        return "\n\n".join(section for section in sections if section)
    builtin, model_cmds = _commands(env)
    commands = [n for n, _ in builtin + model_cmds] + [a for _, c in builtin for a in c.aliases]
    candidates = (commands + ["options", "glossary", "models"] + list(TOPICS)
                  + list(glossary.GLOSSARY) + plugins.names(plugins.OPERATIONS))
    raise UsageError(f"no help found for topic '{topic}'.{suggestion(topic, candidates)}")
