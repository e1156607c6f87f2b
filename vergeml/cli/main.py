"""The ``ml`` command line: ``ml [global options] [@instance] command[:sub] [options] [args]``.

Parsing is driven by the option declarations (:mod:`vergeml.settings.option`):
global options and the chosen command's options form one argparse parser, so
options may come before or after the command, in ``--key=value`` or
``--key value`` form, spelled with hyphens or underscores. Errors are one
line on stderr; exit status 0 on success, 1 on a runtime failure, 2 on a
usage or configuration error. ``VERGEML_DEBUG=1`` shows tracebacks.
"""
import os
import sys
import warnings
from pathlib import Path

from vergeml.plugins import registry as plugins
from vergeml.cli.argv import (OPTIONS_HINT, build_parser, expand_flags, extract_instances, option_topics,
                          reject_empty, reject_unknown, reject_unknown_globals, split_around_command,
                          typed_globals)
from vergeml.commands.command_base import check_arity, lookup
from vergeml.settings.project_settings import (GLOBAL_OPTIONS, ProjectFile, check_top_level_keys, find_project_dir,
                            find_project_file, load_project_file, path_problem, resolve_globals)
from vergeml.settings.environment import DEFAULT_MODEL, Environment
from vergeml.errors import ConfigError, UsageError, VergeMLError
from vergeml.settings.locations import located
from vergeml.settings.option_set import OptionSet
from vergeml.settings.spelling import canonical
from vergeml.settings.suggest import suggestion
from vergeml.console import warn


def parse(argv):
    """Parse the command line into its parts.

    Returns:
        dict with ``env`` (the :class:`Environment`), ``command`` (None when
        no command was given), ``globals`` (global options as typed),
        ``options`` (command options as typed), ``option_set`` (every option
        the command takes), ``extra`` (what its ``preparse`` took out) and
        ``rest`` (the remaining tokens).
    """
    instances, word, before, after = split_around_command(argv)
    topics = []
    if word == "help":  # ml help --cache: the option is the topic
        topics, after = option_topics(after)
    before, after = expand_flags(before, GLOBAL_OPTIONS), expand_flags(after, GLOBAL_OPTIONS)
    more, rest = extract_instances(before + after)
    instances += more
    pre = build_parser(GLOBAL_OPTIONS, hint=OPTIONS_HINT)
    namespace, unknown = pre.parse_known_args(rest)
    globals_typed = typed_globals(namespace)
    wants_help = word in (None, "help") or globals_typed.get("help")
    name, _, sub = (word or "").partition(":")
    env = make_environment(globals_typed, instances, subcommand=sub or None, lenient=wants_help,
                           discover=name != "new")
    if word is None:
        reject_unknown_globals(unknown)
        return {"env": env, "command": None, "globals": globals_typed, "options": {}, "rest": rest}
    try:
        command = find_command(name, env)
    except UsageError:
        reject_unknown_globals([t for t in unknown if t in before])  # ml --invalid opt: the option is wrong
        raise
    options = command_options(command, sub)
    if globals_typed.get("help"):
        # -h/--help shows the command's help, whatever else was (or was not) typed.
        return {"env": env, "command": command, "globals": globals_typed,
                "options": {}, "option_set": options, "rest": rest}
    rest, extra = command.preparse(expand_flags(rest, options))
    see = OPTIONS_HINT if command.name == "help" else f"See 'ml help {command.name}'."
    parser = build_parser(list(GLOBAL_OPTIONS) + list(options), hint=see)
    namespace, unknown = parser.parse_known_intermixed_args(rest)
    reject_unknown([t for t in unknown if t in before], options, OPTIONS_HINT)  # in the global place
    reject_unknown(unknown, options, see)
    typed = {canonical(k): v for k, v in vars(namespace).items()}
    command_typed = {k: v for k, v in typed.items() if k in options}
    reject_empty(command_typed, options, see)
    if topics:
        command_typed["topic"] = topics + list(command_typed.get("topic") or [])
    env.command_line = {**globals_typed, **command_typed}
    return {"env": env, "command": command, "globals": globals_typed,
            "options": command_typed, "option_set": options, "rest": rest, "extra": extra}


def make_environment(globals_typed, instances, subcommand=None, lenient=False, discover=False):
    """Load the project file and resolve the global options.

    Args:
        globals_typed: global options typed on the command line.
        instances: ``@name`` arguments.
        subcommand: the part after ``:`` in ``plot:roc``, or None.
        lenient: for help, a broken project file is a warning, not an error,
            so ``ml help`` can still explain how to fix it.
        discover: without ``--project-dir`` or ``--file``, look for the project
            in the current folder and the folders above it (off for ``ml new``,
            which creates a project where it runs).

    Returns:
        An :class:`Environment`.
    """
    for name, what in (("project-dir", "a directory"), ("file", "a file")):
        problem = path_problem(globals_typed[name], what) if name in globals_typed else None
        if problem:  # --project-dir= would silently mean the current directory
            raise UsageError(f"--{name}: {problem}", hint=OPTIONS_HINT)
    here = os.getcwd()
    if discover and not globals_typed.get("file"):
        here = find_project_dir(here)
    project_dir = Path(globals_typed.get("project-dir") or here)
    if not project_dir.is_dir():
        raise ConfigError(f"project directory not found: {project_dir}")
    path = find_project_file(project_dir, globals_typed.get("file"))
    try:
        project = load_project_file(path) if path else ProjectFile()
        settings = resolve_globals(globals_typed, project)
    except ConfigError as error:
        _ignore_for_help(error, lenient)
        project = ProjectFile()
        settings = resolve_globals({}, project)
    instance = _first_instance(project_dir, settings, instances)
    try:
        model_name = _model_name(globals_typed, settings, instance)
    except ConfigError as error:  # model: with a typo in the file must not stop ml help
        _ignore_for_help(error, lenient and not globals_typed.get("model"))  # --model=nope: typed
        model_name = DEFAULT_MODEL
    return Environment(project_dir, project, settings, instances, subcommand=subcommand,
                       model_name=model_name, instance=instance)


def _ignore_for_help(error, lenient):
    """Re-raise ``error``, or, for help (``lenient``), print it as a warning instead."""
    if not lenient:
        raise error
    warn(f"{error.message} (ignored for help)")


def _first_instance(project_dir, settings, instances):
    """The first ``@name`` instance when its folder exists (else None: the
    command reports the unknown name itself, with a suggestion)."""
    if not instances:
        return None
    trainings_dir = (project_dir / settings["trainings-dir"]).resolve()
    try:
        if not (trainings_dir / instances[0]).is_dir():
            return None
    except OSError:  # a name too long for the file system: no such instance
        return None
    from vergeml.instances import load_instance
    return load_instance(trainings_dir, instances[0])


def _model_name(globals_typed, settings, instance):
    """Model plugin: --model > the @instance's model > project file > imagenet."""
    name = globals_typed.get("model")
    if name is None and instance is not None:
        name = instance.metadata.get("model")
    name = name or settings.get("model") or DEFAULT_MODEL
    if plugins.load(plugins.MODELS, name) is None:
        hint = suggestion(name, plugins.names(plugins.MODELS))
        raise ConfigError(f"unknown model '{name}'.{hint}", hint="See 'ml help models'.")
    return name


def command_names(env):
    """All command words: built-in/plugin commands, then the model's commands."""
    names = set()
    for name, plugin in plugins.available(plugins.COMMANDS):
        names.update((name, *getattr(plugin, "aliases", ())))
    model = env.model()
    names.update(model.commands() if model else {})
    return sorted(names)


def find_command(name, env):
    """Look a command up (see :func:`vergeml.commands.command_base.lookup` for the order).

    Raises:
        UsageError: with a did-you-mean suggestion for an unknown command.
    """
    cls = lookup(name, env)
    if cls is None:
        hint = suggestion(name, command_names(env))
        raise UsageError(f"unknown command '{name}'.{hint}", hint="See 'ml help'.")
    return cls() if isinstance(cls, type) else cls


def command_options(command, sub):
    """The command's options plus those of its ``:sub`` plugin, if any.

    Raises:
        UsageError: when a sub-command is required, missing or unknown.
    """
    options = list(command.options)
    if command.subcommands:
        available = plugins.names(command.subcommands)
        if sub:
            plugin = plugins.instantiate(command.subcommands, sub)
            if plugin is None:
                hint = suggestion(sub, available, prefix=f"{command.name}:")
                raise UsageError(f"unknown {command.name} type '{sub}'.{hint}",
                                 hint=f"Available: {', '.join(available)}.")
            options += list(plugin.options)
    elif sub:
        raise UsageError(f"'{command.name}' has no sub-commands (got '{command.name}:{sub}')")
    return OptionSet(options)


def check_instances(command, env):
    """Enforce how many ``@name`` arguments the command (or its ``:sub`` plugin) takes."""
    target = plugins.instantiate(command.subcommands, env.subcommand) \
        if command.subcommands and env.subcommand else command
    label = command.name + (f":{env.subcommand}" if env.subcommand else "")
    check_arity(target, len(env.instance_names), label)


def run(argv):
    """Parse ``argv`` and run the command. Returns the exit status."""
    parsed = parse(argv)
    env, command = parsed["env"], parsed["command"]
    wants_help = parsed["globals"].get("help")
    if parsed["globals"].get("version") and not wants_help:
        # --version anywhere prints the versions and exits; it never runs the command.
        from vergeml.cli.help_text import print_version
        print_version()
        return 0
    if command is None:
        return _show_help(env, [])
    if wants_help:
        return _show_help(env, [command.name + (f":{env.subcommand}" if env.subcommand else "")])
    if command.subcommands and not env.subcommand:
        available = ", ".join(f"{command.name}:{n}" for n in plugins.names(command.subcommands))
        raise UsageError(f"missing {command.name} type: use one of {available}",
                         hint=f"See 'ml help {command.name}'.")
    check_instances(command, env)
    if command.name != "help":
        check_top_level_keys(env.project,
                             lambda: command_names(env) + plugins.names(plugins.MODELS))
    section, where = _section(env, command)
    args = parsed["option_set"].resolve(parsed["options"], section, where=where,
                                        lines=env.project.lines,
                                        lists=getattr(command, "takes_grids", False))
    args.update(parsed["extra"])
    status = command.run(args, env)
    return status or 0


def _section(env, command):
    """The project-file section holding this command's option defaults."""
    node, dotted = env.project.data, ""
    for key in (command.name, env.subcommand) if env.subcommand else (command.name,):
        node = node.get(key) if isinstance(node, dict) else None
        dotted = f"{dotted}.{key}" if dotted else key
        if node is not None and not isinstance(node, dict):
            raise ConfigError(located(env.project.lines, dotted, f"{dotted}: expected a mapping of "
                                      f"option names to values, got {node!r}"))
    if env.subcommand:
        return env.project.section(command.name, env.subcommand), f"{command.name}.{env.subcommand}"
    return env.project.section(command.name), command.name


def _show_help(env, topic):
    from vergeml.commands.help import HelpCommand
    return HelpCommand().run({"topic": topic}, env)


def report(error):
    """Print a user error: ``Error: message`` and an optional hint, on stderr."""
    print(f"Error: {_one_line(error.message)}", file=sys.stderr)
    for line in getattr(error.message, "excerpt", ()):  # the project-file line, a caret under the value
        print(line, file=sys.stderr)
    if error.hint:
        print(error.hint, file=sys.stderr)


def _one_line(text):
    """``text`` with line breaks and other control characters escaped (``\\n``, ``\\x1b``):
    a value quoted in a message can neither break it into lines nor drive the terminal."""
    return "".join(c if c.isprintable() or c == "\t" else c.encode("unicode_escape").decode("ascii")
                   for c in str(text))


def _quiet_libraries():
    """Keep TensorFlow's start-up chatter and Python warning boilerplate off the console."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.formatwarning = lambda message, category, *rest: f"Warning: {message}\n"


def main(argv=None):
    """Entry point of the ``ml`` console script."""
    argv = sys.argv[1:] if argv is None else argv
    debug = os.environ.get("VERGEML_DEBUG", "") not in ("", "0")
    _quiet_libraries()
    try:
        return run(argv)
    except VergeMLError as error:
        if debug:
            raise
        report(error)
        return error.exit_code
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as error:
        if debug:
            raise
        print(f"Error: {type(error).__name__}: {error}", file=sys.stderr)
        print("This looks like a bug in VergeML. Set VERGEML_DEBUG=1 to see the traceback.",
              file=sys.stderr)
        return 1
