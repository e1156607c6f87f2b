"""The text of ``ml help``: overview, command pages, option tables, topics, the glossary.

Kept apart from :mod:`vergeml.commands.help` so the docs generator and
``ml --version`` can share it. It must stay free of heavy imports (NumPy,
TensorFlow, ...): ``ml help`` has to start fast, and it only loads plugin
classes, which declare their options without importing their libraries.
"""
import platform
import shutil
import textwrap

from vergeml import __version__, glossary, plugins
from vergeml.command import ANY_INSTANCES, ONE_INSTANCE, OPTIONAL_INSTANCE
from vergeml.config import GLOBAL_OPTIONS
from vergeml.errors import UsageError
from vergeml.suggest import suggestion

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
             "directory holding <class>/ folders. Samples are assigned by a stable hash of "
             "their path and the random seed.",
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
    "device": "--device selects auto, cpu, gpu or gpu:N. GPU memory is allocated as needed "
              "rather than all at once; --device-memory (auto or a percentage such as 80%) is "
              "accepted for compatibility but sets no hard cap.",
}
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
        right = option.help
        if option.default is not None and not option.flag:
            right += f" [default: {show_default(option.default)}]"
        if option.choices or option.rule or option.also:
            right += f" ({option.describe()})"
        rows.append((left, right))
    return rows


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
        subs = [(f"{command.name}:{n}", plugins.instantiate(command.subcommands, n).description)
                for n in plugins.names(command.subcommands)]
        parts += ["Types:", format_rows(subs), ""]
    if examples:
        parts += ["Examples:"] + [f"  {e}" for e in examples] + [""]
    parts.append("Global options (ml help options) may be given too.")
    return "\n".join(parts)


def _commands(env):
    """``(name, command)`` pairs: built-in commands, then model commands."""
    builtin = [(n, plugins.instantiate(plugins.COMMANDS, n)) for n in plugins.names(plugins.COMMANDS)]
    model = env.model()
    model_cmds = sorted((model.commands() if model else {}).items())
    return builtin, [(n, c()) for n, c in model_cmds]


def overview(env):
    """The text of plain ``ml help``."""
    builtin, model_cmds = _commands(env)
    general = [("options", "Global options such as --samples-dir and --cache."),
               ("glossary", "Definitions of hyperparameters and metrics."),
               ("models", "The installed model plugins."),
               ("data", "Samples, splits, preprocessing and the cache.")]
    parts = [HEADER, "", f"Current model: {env.model_name}", "",
             "General help:", format_rows(general), "",
             "Commands:", format_rows([(n, c.description) for n, c in builtin]), "",
             "Model commands:", format_rows([(n, c.description) for n, c in model_cmds]), "",
             wrap("See 'ml help <command>' or 'ml help <topic>' to read about a command or "
                  "topic, e.g. 'ml help train' or 'ml help learning-rate'.")]
    return "\n".join(parts)


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
                      "Options:", format_rows(option_rows(plugin.options)) or "  (none)"])


def find_topic(topic, env):
    """Resolve a help topic to its text.

    Raises:
        UsageError: for an unknown topic, with a did-you-mean suggestion.
    """
    builtin, model_cmds = _commands(env)
    commands = dict(builtin + model_cmds)
    for name, cmd in builtin:
        commands.update({alias: cmd for alias in cmd.aliases})
    name, _, sub = topic.partition(":")
    if name in commands:
        command = commands[name]
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
        rows = [(n, plugins.instantiate(plugins.MODELS, n).description) for n in plugins.names(plugins.MODELS)]
        return "Models:\n" + format_rows(rows)
    if topic in TOPICS:
        ops = ", ".join(plugins.names(plugins.OPERATIONS))
        return wrap(TOPICS[topic].replace("{ops}", ops))
    for group, kind in ((plugins.OPERATIONS, "operation"), (plugins.SOURCES, "data source")):
        if topic in plugins.names(group):
            return plugin_help(kind, plugins.instantiate(group, topic))
    option = GLOBAL_OPTIONS.get(topic)
    if option is not None:
        return format_rows(option_rows([option]))
    found = glossary.lookup(topic)
    if found:
        return f"{found[0]}\n\n{wrap(found[1], indent=4)}"
    candidates = (list(commands) + ["options", "glossary", "models"] + list(TOPICS)
                  + list(glossary.GLOSSARY) + plugins.names(plugins.OPERATIONS))
    raise UsageError(f"no help found for topic '{topic}'.{suggestion(topic, candidates)}")
