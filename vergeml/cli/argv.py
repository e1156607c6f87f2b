"""Tokens of the ``ml`` command line: where the command is, flags, argparse parsers, unknown options.

:mod:`vergeml.cli.main` puts these together; nothing here loads a plugin or the
project file.
"""
import argparse
import re

from vergeml.settings.project_settings import GLOBAL_OPTIONS
from vergeml.errors import UsageError
from vergeml.settings.option import OptionValueError
from vergeml.settings.spelling import canonical
from vergeml.settings.suggest import suggestion

OPTIONS_HINT = "See 'ml help options'."


class _Parser(argparse.ArgumentParser):
    """argparse parser that raises UsageError instead of printing and exiting."""

    hint = None

    def error(self, message):
        message = re.sub(r"^argument (-[^/:\s]+)(/-[^:\s]+)*:", r"\1:", message)
        message = re.sub(r"^the following arguments are required: (.*)",
                         lambda m: "missing argument " + ", ".join(f"<{n}>" for n in m.group(1).split(", ")),
                         message)
        raise UsageError(message.replace("expected one argument", "expected a value"), hint=self.hint)


def build_parser(options, hint=None):
    """Build an argparse parser from option declarations.

    Options not typed by the user are absent from the result (SUPPRESS), so
    the project file and defaults can fill them in by precedence. Every
    option takes a value; a bare flag (``--compact``) must first be spelled
    ``--compact=true`` with :func:`expand_flags`.

    Args:
        options: iterable of :class:`vergeml.settings.option.Option`.
        hint: second line of the error for a malformed command line.

    Returns:
        An argparse parser.
    """
    parser = _Parser(prog="ml", add_help=False, allow_abbrev=False)
    parser.hint = hint
    for option in options:
        if option.positional:
            parser.add_argument(option.dest, nargs=option.nargs or None, default=argparse.SUPPRESS)
            continue
        # The canonical name first: argparse names an option by its first flag in errors
        # (--output, not its alias --format).
        flags = sorted(option.spellings(), key=lambda f: f != f"--{option.name}") \
            + ([f"-{option.short}"] if option.short else [])
        parser.add_argument(*flags, dest=option.dest, default=argparse.SUPPRESS)
    return parser


def expand_flags(tokens, options):
    """Spell bare boolean flags with a value: ``--compact`` and ``-n`` become ``--compact=true``.

    ``--compact=no`` stays as typed; a bare flag never takes the next token
    as its value, so ``--compact photo.jpg`` keeps the file. Tokens after
    ``--`` are left alone.
    """
    spelled = {}
    for option in options:
        if option.flag and not option.positional:
            spelled.update({s: option.name for s in option.spellings()})
            if option.short:
                spelled[f"-{option.short}"] = option.name
    expanded = list(tokens)
    for i, token in enumerate(expanded):
        if token == "--":
            break
        if token in spelled:
            expanded[i] = f"--{spelled[token]}=true"
    return expanded


def split_command_line(argv):
    """Find the ``@instance`` names and the command word in ``argv``.

    Global options that take a value may appear before the command in the
    ``--key value`` form, so their values are skipped while looking.

    Returns:
        ``(instances, command, rest)`` where rest holds every other token.
    """
    instances, command, before, after = split_around_command(argv)
    return instances, command, before + after


def split_around_command(argv):
    """:func:`split_command_line`, with the other tokens as ``before`` and ``after`` the command."""
    instances, before, after, command = [], [], [], None
    tokens = list(argv)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        rest = before if command is None else after
        if token == "--":
            rest.extend(tokens[i:])
            break
        if command is None and token.startswith("@") and len(token) > 1:
            instances.append(token[1:])
        elif command is None and not token.startswith("-"):
            command = token
        else:
            rest.append(token)
            if command is None and _takes_value(token) and i + 1 < len(tokens):
                rest.append(tokens[i + 1])
                i += 1
        i += 1
    return instances, command, before, after


def _takes_value(token):
    """Whether a pre-command token is a global option expecting a separate value."""
    if "=" in token:
        return False
    if token.startswith("--"):
        option = GLOBAL_OPTIONS.get(token)
    elif len(token) == 2:
        option = next((o for o in GLOBAL_OPTIONS if o.short == token[1]), None)
    else:
        return False
    return option is not None and not option.flag


def extract_instances(tokens):
    """Collect ``@name`` tokens that follow the command (``ml predict @x a.jpg``)."""
    names = [t[1:] for t in tokens if t.startswith("@") and len(t) > 1]
    return names, [t for t in tokens if not (t.startswith("@") and len(t) > 1)]


def option_topics(tokens):
    """Take global option names typed without a value (``--cache``, ``-m``) out of ``ml help``'s
    arguments: they are topics. ``-h``/``--help`` and ``--cache=mem`` stay options."""
    names = {s for o in GLOBAL_OPTIONS if o.name != "help"
             for s in o.spellings() + ([f"-{o.short}"] if o.short else [])}
    topics = [t for t in tokens if t in names]
    return topics, [t for t in tokens if t not in names]


def reject_unknown(unknown, options, see):
    """Turn tokens argparse did not recognise into a did-you-mean error (``see``: the hint line)."""
    for token in unknown:
        if token.startswith("-") and not _is_number(token):
            name = token.split("=", 1)[0]
            known = list(dict.fromkeys([o.name for o in options if not o.positional]
                                       + [o.name for o in GLOBAL_OPTIONS]))
            hint = suggestion(canonical(name), known, prefix="--")
            completions = [k for k in known if k.startswith(canonical(name))]
            if len(canonical(name)) >= 2 and len(completions) == 1:  # an abbreviation
                hint = f" Did you mean '--{completions[0]}'?"
            raise UsageError(f"unknown option {name}.{hint}", hint=see)
        raise UsageError(f"unexpected argument '{token}'", hint=see)


def reject_empty(typed, options, see):
    """An empty or blank argument (``ml @x predict ''``) names no file, folder or topic:
    a usage error instead of a confusing ``: No such file or directory``."""
    for option in options:
        value = typed.get(option.name) if option.positional else None
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and not v.strip() for v in values):
            raise UsageError(f"<{option.name}>: empty argument {next(v for v in values if not v.strip())!r}",
                             hint=see)


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def typed_globals(namespace):
    """Global options as typed, canonical names; flags converted to booleans."""
    typed = {canonical(k): v for k, v in vars(namespace).items()}
    for option in GLOBAL_OPTIONS:
        if option.flag and option.name in typed:
            try:
                typed[option.name] = option.parse(typed[option.name])
            except OptionValueError as err:
                raise UsageError(f"--{option.name}: {err}", hint=OPTIONS_HINT) from None
    return typed


def reject_unknown_globals(unknown):
    """Unknown options where only global options belong (before the command, or no command)."""
    unknown = unknown[:unknown.index("--")] if "--" in unknown else unknown
    reject_unknown([t for t in unknown if t.startswith("-") and not _is_number(t)],
                   GLOBAL_OPTIONS, OPTIONS_HINT)
