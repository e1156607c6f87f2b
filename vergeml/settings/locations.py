"""Where a setting is in the project file: ``file:line:column:`` prefixes and a caret excerpt.

:mod:`vergeml.settings.project_settings` records the position of every key and value of
``vergeml.yaml``; :func:`located` turns a message about a key into::

    vergeml.yaml:3:18: train.learning-rate: expected a number > 0 or auto, got "fast"
      learning-rate: fast
                     ^

The first line is the message; the excerpt (:attr:`LocatedMessage.excerpt`)
is printed after it by :func:`vergeml.cli.main.report`. :func:`collect_lines` records
those positions while :func:`vergeml.settings.project_settings.load_project_file` reads the file.
"""
import collections

from vergeml.errors import ConfigError
from vergeml.settings.spelling import canonical


class LocatedMessage(str):
    """An error message located in the project file.

    Attributes:
        excerpt: the source line and a caret line under the bad key or value,
            printed after the ``Error:`` line (empty when the text is unknown).
    """

    excerpt = ()


def located(lines, dotted, message, key=False):
    """Prefix a message with ``file:line:column:`` of a key of the project file.

    Args:
        lines: ``ProjectFile.lines``; with value positions (``lines.marks``)
            and the file's text (``lines.text``) the result carries an excerpt.
        dotted: the key, e.g. ``train.learning-rate`` or ``data.preprocess.0``.
        message: the one-line message.
        key: point at the key itself (unknown option) instead of its value.

    Returns:
        The message, prefixed when the key's position is known.
    """
    if not lines or dotted not in lines:
        return message
    mark = getattr(lines, "marks", {}).get(dotted)
    if mark is None:
        path, line = lines[dotted][:2]
        return f"{path}:{line}: {message}"
    line, column = mark.key if key else mark.value
    return located_at(lines[dotted][0], line, column, message, getattr(lines, "text", ()))


def located_at(path, line, column, message, text=()):
    """``path:line:column: message`` (``line`` and ``column`` counted from 0) with an excerpt of ``text``."""
    result = LocatedMessage(f"{path}:{line + 1}:{column + 1}: {message}")
    if text and line >= len(text):  # the end of the file: after its last line
        line, column = len(text) - 1, len(text[-1].rstrip())
    if 0 <= line < len(text):
        source = text[line].rstrip()
        pad = "".join(c if c == "\t" else " " for c in source[:column])
        result.excerpt = (source, pad + "^")
    return result


def position(text, index):
    """``(line, column)`` of ``text[index]``, counted from 0 (``text``: str or bytes)."""
    newline = b"\n" if isinstance(text, bytes) else "\n"
    return text.count(newline, 0, index), index - (text.rfind(newline, 0, index) + 1)


# What typing.NamedTuple would make, without importing typing (~4 ms of every start).
Mark = collections.namedtuple("Mark", ["key", "value"])
Mark.__doc__ = """Where a key and its value start: ``(line, column)`` pairs, counted from 0."""


class KeyLines(dict):
    """Dotted key -> ``(file name, line)``, plus the positions for excerpts.

    Attributes:
        marks: dotted key -> :class:`Mark`.
        text: the lines of the file.
    """

    def __init__(self, text=()):
        super().__init__()
        self.marks = {}
        self.text = list(text)

    def record(self, dotted, filename, key_node, value_node):
        """Note where ``dotted`` (a mapping key or a list item) and its value start."""
        key, value = key_node.start_mark, value_node.start_mark
        self[dotted] = (filename, key.line + 1)
        self.marks[dotted] = Mark((key.line, key.column), (value.line, value.column))


def collect_lines(node, prefix, filename, lines, seen):
    """Record the position of every mapping key and list item, in both spellings.

    An alias shares its anchor's node: each node is walked once (``seen``: ids of
    the nodes walked), so a few lines of nested aliases cannot make the walk
    exponential. A key set twice in one mapping is an error.
    """
    import yaml
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            dotted = f"{prefix}.{key}" if prefix else key
            spelled = ".".join(canonical(p) for p in dotted.split("."))
            _check_key(first, spelled if not spelled.startswith("data.") else dotted,
                             key_node, filename, lines.text)
            lines.record(dotted, filename, key_node, value_node)
            lines.record(spelled, filename, key_node, value_node)
            collect_lines(value_node, spelled, filename, lines, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.record(f"{prefix}.{index}", filename, item, item)
            collect_lines(item, f"{prefix}.{index}", filename, lines, seen)


def _check_key(first, dotted, key_node, filename, text):
    """Raise for a null key (``null:``, ``~:``) or when ``dotted`` is already in ``first``
    (dotted key -> line); else note it.

    Outside ``data:`` keys are compared as options (``learning_rate`` is
    ``learning-rate``); inside it they are compared as written (class names).
    """
    if key_node.tag == "tag:yaml.org,2002:merge":  # <<: *defaults may repeat
        return
    mark = key_node.start_mark
    if key_node.tag == "tag:yaml.org,2002:null":  # read as None, it would be reported as "none"
        raise ConfigError(located_at(filename, mark.line, mark.column,
                                     f"a key cannot be null, got {key_node.value or 'nothing'!r}", text))
    if dotted in first:
        raise ConfigError(located_at(filename, mark.line, mark.column,
                                     f"{dotted}: set twice (first on line {first[dotted]})", text),
                          hint="Keep one of the two lines.")
    first[dotted] = mark.line + 1
