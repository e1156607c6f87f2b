"""The review file of ``ml doctor --review``: one CSV row per file of a finding.

The user edits the ``action`` column in any spreadsheet (``keep``,
``remove`` or ``relabel:<label>``) and hands the file to ``--apply``.
:func:`read_review` checks every row before anything moves: a file that is
not where the row says, a label or action it does not know, or a file given
two different actions stops with one line naming the row, and nothing changes.

Rows are numbered as a spreadsheet shows them: the header is row 1.
"""
import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from vergeml.errors import UsageError
from vergeml.fileutil import atomic_write_text

# Where ``ml ui``'s data page looks for the review file unless told otherwise.
DEFAULT_PATH = "doctor/review.csv"
COLUMNS = ("kind", "file", "label", "split", "suggested", "score", "action")
# The columns read back; the others are there for the user to sort and filter by.
REQUIRED = ("file", "label", "action")
ACTIONS = ("keep", "remove", "relabel:<label>")
# Spreadsheets in some locales save CSV with semicolons (or tabs) between cells.
DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True)
class Move:
    """One file to move, as the review file asks.

    Attributes:
        file: its path relative to the project folder (posix), e.g. ``samples/ants/x.jpg``.
        label: its current label (class folder); ``""`` in a project without labels.
        action: ``relabel`` or ``remove``.
        target_label: the new label for ``relabel``; ``""`` for ``remove``.
    """

    file: str
    label: str
    action: str
    target_label: str = ""


def write_review(path, findings):
    """Write the review file for ``findings`` (atomically).

    Args:
        path: the CSV file to write.
        findings: :class:`vergeml.doctor.findings.Finding` objects, in the order
            to list them (a file in several findings gets a row for each).

    Returns:
        The number of rows written (the header not counted).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    rows = 0
    for finding in findings:
        for index, file in enumerate(finding.files):
            label = finding.labels[index] if index < len(finding.labels) else ""
            split = finding.splits[index] if index < len(finding.splits) else ""
            # Every action starts as keep, a suggested relabel too: the user decides.
            writer.writerow((finding.kind, file, label, split, finding.suggested,
                             f"{float(finding.score):.4f}", "keep"))
            rows += 1
    atomic_write_text(path, out.getvalue())
    return rows


def read_review(path, project_dir, samples_dir, label_names):
    """The moves an edited review file asks for, after checking every row.

    Args:
        path: the review CSV (UTF-8, with or without a byte-order mark).
        project_dir: the project folder; the ``file`` column is relative to it.
        samples_dir: the samples folder (absolute, or relative to the project).
        label_names: the project's class names (empty: a project without labels).

    Returns:
        A list of :class:`Move`, one per file to move, in the order of the rows;
        ``keep`` rows give none.

    Raises:
        UsageError: the file cannot be read, or a row is wrong (the first such
            row is named, with how many more there are); nothing was moved.
    """
    path = Path(path)
    records = _records(path)
    where = _Where(project_dir, samples_dir, label_names)
    problems, moves, first_row = [], {}, {}
    for number, row in records:
        try:
            move = _check_row(row, where)
            if move is not None:
                _check_twice(move, number, moves, first_row)
        except ValueError as err:
            problems.append(f"{path.name} row {number}: {err}")
    if problems:
        more = f" (and {len(problems) - 1} more row(s) with problems)" if len(problems) > 1 else ""
        raise UsageError(problems[0] + more,
                         hint=f"Correct the review file; actions: {', '.join(ACTIONS)}.")
    return list(moves.values())


def _check_twice(move, number, moves, first_row):
    """Keep one move per file; the same file with another action is an error."""
    earlier = moves.get(move.file)
    if earlier is None:
        moves[move.file], first_row[move.file] = move, number
    elif earlier != move:
        raise ValueError(f"{move.file!r} is to {_describe(move)} here but to {_describe(earlier)} "
                         f"in row {first_row[move.file]}")


def _describe(move):
    return f"relabel:{move.target_label}" if move.action == "relabel" else move.action


def review_rows(path):
    """The rows of a review file as shown to a user (``ml ui``'s data page).

    Args:
        path: the review CSV.

    Returns:
        ``[{column: cell}]`` with every column of :data:`COLUMNS` (``""`` where the
        file has no such column), in file order.

    Raises:
        UsageError: as :func:`read_review` for an unreadable file or header.
    """
    return [row for _, row in _records(Path(path), COLUMNS)]


def set_action(path, file, action, label_names):
    """Set the action of every row of ``file`` in a review file (atomically), as a user
    would in a spreadsheet; the file keeps its delimiter and its other cells.

    Args:
        path: the review CSV.
        file: the ``file`` cell of the rows to change.
        action: ``keep``, ``remove`` or ``relabel:<label>``.
        label_names: the project's class names.

    Returns:
        The number of rows changed.

    Raises:
        UsageError: an unknown action or label, a file the review does not list, or a
            review file that cannot be read.
    """
    try:
        _parse_action(action, label_names)
    except ValueError as err:
        raise UsageError(str(err)) from None
    path = Path(path)
    text = _text(path)
    delimiter = _delimiter(text)
    rows = [cells for cells in _rows(text, path.name) if any(c.strip() for c in cells)]
    names = [cell.strip().lower() for cell in rows[0]] if rows else []
    if "file" not in names or "action" not in names:
        raise UsageError(f"{path.name}: no file and action columns in the header")
    at, act = names.index("file"), names.index("action")
    changed = 0
    for cells in rows[1:]:
        if len(cells) > max(at, act) and cells[at].strip() == file:
            cells[act], changed = action, changed + 1
    if not changed:
        raise UsageError(f"{file!r} is not in {path.name}")
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    atomic_write_text(path, out.getvalue())
    return changed


def _text(path):
    """The text of a review file.

    Raises:
        UsageError: unreadable or not UTF-8.
    """
    try:
        data = path.read_bytes()
    except OSError as err:
        raise UsageError(f"cannot read the review file {path}: {err.strerror or err}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UsageError(f"{path.name} is not UTF-8 text (byte {err.start}); save it as "
                         "CSV UTF-8") from None


def _records(path, columns=REQUIRED):
    """``[(row number, {column: cell})]`` of the data rows, blank rows left out.

    Args:
        path: the review CSV.
        columns: the columns to read; those of :data:`REQUIRED` must be there, the
            others read as ``""`` when absent.

    Raises:
        UsageError: unreadable, not UTF-8, empty, or a required column is missing.
    """
    text = _text(path)
    rows = [(n, cells) for n, cells in enumerate(_rows(text, path.name), start=1)
            if any(cell.strip() for cell in cells)]
    if not rows:
        raise UsageError(f"{path.name} is empty: expected the header "
                         f"{','.join(COLUMNS)} and a row per file")
    number, header = rows[0]
    names = [cell.strip().lower() for cell in header]
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise UsageError(f"{path.name} row {number}: no column {', '.join(missing)} in the header "
                         f"(expected {','.join(COLUMNS)})")
    index = {name: names.index(name) if name in names else len(header) for name in columns}
    return [(n, {name: cells[i].strip() if i < len(cells) else "" for name, i in index.items()})
            for n, cells in rows[1:]]


def _delimiter(text):
    """The delimiter the header of a review file uses."""
    first = text.lstrip().split("\n", 1)[0].lower()

    def fits(delimiter):
        cells = [cell.strip().strip('"').strip() for cell in first.split(delimiter)]
        return "file" in cells, first.count(delimiter)
    return max(DELIMITERS, key=fits)


def _rows(text, name):
    """The CSV rows of ``text``, cut with the delimiter its header uses."""
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text)))
    except csv.Error as err:
        raise UsageError(f"{name} is not a CSV file ({err})") from None


class _Where:
    """Where the rows' files are: the project, the samples folder, the labels."""

    def __init__(self, project_dir, samples_dir, label_names):
        self.project = os.path.normpath(os.path.abspath(project_dir))
        self.samples = os.path.normpath(os.path.join(self.project, samples_dir))
        self.labels = [str(name) for name in label_names]

    def locate(self, file):
        """``(relative to the project, relative to the samples folder)`` of a row's file.

        Raises:
            ValueError: the file is outside the samples folder or does not exist.
        """
        full = os.path.normpath(os.path.join(self.project, file))
        inside = os.path.relpath(full, self.samples)
        if inside == "." or inside.split(os.sep)[0] == os.pardir or os.path.isabs(inside):
            raise ValueError(f"{file!r} is not in the samples folder "
                             f"{_shown(os.path.relpath(self.samples, self.project))}")
        self.check_exists(file)
        return Path(os.path.relpath(full, self.project)).as_posix(), Path(inside).as_posix()

    def check_exists(self, file):
        """Raises ValueError when ``file`` (relative to the project, or absolute) is no file."""
        if not os.path.isfile(os.path.join(self.project, file)):
            raise ValueError(f"no such file {file!r} (relative to the project folder)")

    def label_of(self, inside, shown):
        """The label of a file by its class folder (``""`` without labels).

        Raises:
            ValueError: the file is not in a class folder.
        """
        if not self.labels:
            return ""
        parts = inside.split("/")
        if len(parts) < 2 or parts[0] not in self.labels:
            raise ValueError(f"{shown!r} is not in a class folder ({', '.join(self.labels)})")
        return parts[0]


def _shown(path):
    return Path(path).as_posix()


def _check_row(row, where):
    """The :class:`Move` of one row, or None for ``keep``.

    Raises:
        ValueError: what is wrong with the row, in one line.
    """
    if not row["file"]:
        raise ValueError("the file column is empty")
    action = _parse_action(row["action"], where.labels)
    if action[0] == "keep":
        # Nothing moves, so the file may be outside the samples folder (a leak's copy
        # in a test-split folder is listed for review as kept), but it must exist: a
        # row naming no file is a typo or a review of another project.
        where.check_exists(row["file"])
        return None
    file, inside = where.locate(row["file"])
    label = where.label_of(inside, row["file"])
    if row["label"] and row["label"] != label:
        # The folder is the label: an edited label column, or samples moved since the review.
        raise ValueError(f"{row['file']!r} is in the class folder {label or '(none)'!r}, not "
                         f"{row['label']!r} (to change a label, write relabel:<label> as the action)")
    name, target = action
    if name == "keep" or (name == "relabel" and target == label):
        return None
    return Move(file, label, name, target)


def _parse_action(cell, labels):
    """``(action, target label)`` of an action cell, as typed in a spreadsheet.

    Raises:
        ValueError: an empty or unknown action, or a relabel to an unknown label.
    """
    text = cell.strip()
    word, colon, target = text.partition(":")
    word = word.strip().lower()
    if word in ("keep", "remove") and not colon:
        return word, ""
    if word == "relabel" and colon:
        target = target.strip()
        if not labels:
            raise ValueError(f"cannot {text!r}: the project has no labels")
        if target not in labels:
            raise ValueError(f"unknown label {target!r} in {text!r} (labels: {', '.join(labels)})")
        return word, target
    if not text:
        raise ValueError(f"the action is empty (expected {', '.join(ACTIONS)})")
    raise ValueError(f"unknown action {text!r} (expected {', '.join(ACTIONS)})")
