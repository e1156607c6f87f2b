"""Where a setting is in the project file: ``file:line:column:`` prefixes and a caret excerpt.

:mod:`vergeml.config` records the position of every key and value of
``vergeml.yaml``; :func:`located` turns a message about a key into::

    vergeml.yaml:3:18: train.learning-rate: expected a number > 0 or auto, got "fast"
      learning-rate: fast
                     ^

The first line is the message; the excerpt (:attr:`LocatedMessage.excerpt`)
is printed after it by :func:`vergeml.cli.report`.
"""


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
