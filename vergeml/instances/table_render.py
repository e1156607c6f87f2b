"""The ``ml list`` table: GitHub style, byte for byte what tabulate prints.

``tabulate(cells, headers, tablefmt="github", disable_numparse=True,
colalign=aligns)`` cost ``ml list`` 70-100 ms: importing it pulls in
``importlib.metadata`` and ``email``, and it guesses a type for every cell.
Here the same output is built directly, for the tables ``ml list`` prints:
every header and cell printable text (:meth:`str.isprintable`: no line break,
tab, escape or other control character), columns aligned left or right.
Anything else (a multi-line error message, ANSI colours) is handed to
tabulate itself, so its multi-line and escape-code rules need no copy here.

The rules copied from tabulate 0.9/0.10: cells are stripped; a column is as
wide as its widest cell and at least its header plus 2; widths are display
widths (``wcwidth.wcswidth``, when ``wcwidth`` is installed, as tabulate
does) and padding makes up the difference; each line is ``| cell | cell |``
with one space either side, and a ``|---|`` line follows the header.
"""
_ALIGNS = ("left", "right")


def github_table(headers, rows, aligns):
    """The table as tabulate's ``github`` format with numbers left as text.

    Args:
        headers: column titles (str), one per column.
        rows: rows of cell text (str), each as long as ``headers``.
        aligns: ``"left"`` or ``"right"`` per column.

    Returns:
        The table text, lines joined by newlines, no trailing newline.
    """
    rows = [list(r) for r in rows]
    if any(len(r) != len(headers) for r in rows):
        return _tabulate(list(headers), rows, list(aligns))
    columns = [[r[i] for r in rows] for i in range(len(headers))]
    return github_columns(headers, columns, aligns)


def github_columns(headers, columns, aligns):
    """:func:`github_table` from the cells column by column (how ``ml list`` makes them).

    Args:
        headers: column titles (str).
        columns: per header, the column's cell text (str) top to bottom,
            every column as long.
        aligns: ``"left"`` or ``"right"`` per column.

    Returns:
        The table text, as :func:`github_table`.
    """
    headers, columns, aligns = list(headers), [list(c) for c in columns], list(aligns)
    if not _simple(headers, columns, aligns):
        return _tabulate(headers, [list(r) for r in zip(*columns)], aligns)
    width = _width_function(headers, columns)
    if not columns[0]:  # no rows: tabulate then aligns every header left (no column types)
        aligns = ["left"] * len(headers)
    padded = [_column(cells, header, align, width)
              for cells, header, align in zip(columns, headers, aligns)]
    head = [_pad(h, a, w + len(h) - width(h)) for h, a, (w, _) in zip(headers, aligns, padded)]
    lines = [_line(head), "|" + "|".join("-" * (w + 2) for w, _ in padded) + "|"]
    lines += map(_line, zip(*(cells for _, cells in padded)))
    return "\n".join(lines)


def _simple(headers, columns, aligns):
    """Whether the fast path gives tabulate's output for this table.

    Args:
        headers: column titles.
        columns: the cells, column by column.
        aligns: alignment per column.

    Returns:
        True when every value is printable text, there are columns, all
        as long, one per header, and every alignment is left or right.
    """
    if not headers or len(aligns) != len(headers) or len(columns) != len(headers):
        return False
    if not all(a in _ALIGNS for a in aligns) or len({len(c) for c in columns}) != 1:
        return False
    if not all(type(h) is str for h in headers):
        return False
    if not all(type(c) is str for column in columns for c in column):
        return False
    # One join: a control character anywhere (\n, \t, ESC, tabulate's \001
    # separator marker) means tabulate's other code paths.
    return _joined(headers, columns).isprintable()


def _joined(headers, columns):
    """All headers and cells as one string (for whole-table character checks)."""
    return "".join(headers) + "".join("".join(column) for column in columns)


def _width_function(headers, columns):
    """The display width function tabulate would use for this table.

    Args:
        headers: column titles.
        columns: the cells, column by column.

    Returns:
        :func:`len` for ASCII text (``wcswidth`` agrees there), else
        ``wcwidth.wcswidth`` when that package is installed, else :func:`len`.
    """
    if _joined(headers, columns).isascii():
        return len
    try:
        import wcwidth
    except ImportError:
        return len
    return wcwidth.wcswidth


def _column(cells, header, align, width):
    """Strip and pad one column's cells.

    Args:
        cells: the column's cell text, top to bottom.
        header: its title (sets the minimum width).
        align: ``"left"`` or ``"right"``.
        width: the display width function.

    Returns:
        ``(column width, padded cells)``.
    """
    cells = [c.strip() for c in cells]
    pad = str.ljust if align == "left" else str.rjust
    if width is len:  # the common case, kept to a few C-level passes
        most = max(max(map(len, cells), default=0), len(header) + 2)
        return most, [pad(c, most) for c in cells]
    widths = [width(c) for c in cells]
    most = max(widths + [width(header) + 2])
    # Pad to the display width: a wide character takes two columns, one len.
    padded = [pad(c, most - w + len(c)) for c, w in zip(cells, widths)]
    return max([width(c) for c in padded] + [width(header) + 2]), padded


def _pad(text, align, size):
    """``text`` padded with spaces to ``size`` characters, on the right for left alignment."""
    return text.ljust(size) if align == "left" else text.rjust(size)


def _line(cells):
    """One table line: ``| a | b |``."""
    return "| " + " | ".join(cells) + " |"


def _tabulate(headers, rows, aligns):
    """tabulate's own rendering, for tables outside the fast path."""
    from tabulate import tabulate
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True,
                    colalign=aligns)
