"""What ``ml doctor`` prints: the table grouped by kind, json and csv records, the summary.

Pure text: findings in, strings out (no NumPy, no Pillow), so it is tested on
hand-made :class:`~vergeml.doctor.findings.Finding` objects.
"""
import csv
import io
import json
from itertools import zip_longest

from vergeml.doctor.findings import KINDS, ordered

# Findings per kind the table shows when --limit is not given (json and csv: all).
DEFAULT_LIMIT = 10
# The heading of each kind's group: what a finding of that kind means.
TITLES = {
    "label": "labels that are probably wrong",
    "conflict": "copies of one image under different labels",
    "leak": "copies of one image in more than one split",
    "duplicate": "exact or near copies",
    "outlier": "images far from every class",
    "quality": "unreadable, tiny, blank, dark, bright or blurry files",
    "imbalance": "class counts",
}
RECORD_FIELDS = ("kind", "files", "labels", "splits", "suggested", "score", "why")
_HEADERS = ("score", "file", "label", "split", "suggested", "why")


def limited(findings, limit):
    """The most certain ``limit`` findings of each kind, grouped in :data:`KINDS` order.

    Args:
        findings: any iterable of :class:`Finding`.
        limit: findings per kind; None or 0 keeps them all.

    Returns:
        ``(shown, hidden)``: the findings kept, in report order, and
        ``{kind: how many were left out}``.
    """
    shown, kept, hidden = [], {}, {}
    for finding in ordered(findings):
        if limit and kept.get(finding.kind, 0) >= limit:
            hidden[finding.kind] = hidden.get(finding.kind, 0) + 1
        else:
            kept[finding.kind] = kept.get(finding.kind, 0) + 1
            shown.append(finding)
    return shown, hidden


def render_table(findings, limit=DEFAULT_LIMIT):
    """The findings as text: one group per kind, most certain first.

    A finding of several files (a group of copies) takes one line per file;
    its score and why stand on the first. Columns empty for every finding of a
    group (``suggested`` outside ``label``, the files of ``imbalance``) are left out.

    Args:
        findings: :class:`Finding` objects, in any order.
        limit: findings shown per kind (None or 0: all).

    Returns:
        The text, without a trailing newline ('' when there are no findings).
    """
    shown, hidden = limited(findings, limit)
    blocks = []
    for kind in KINDS:
        group = [f for f in shown if f.kind == kind]
        if not group:
            continue
        total = len(group) + hidden.get(kind, 0)
        lines = [f"{kind}: {TITLES[kind]} ({_count_text(len(group), total)})"]
        lines += _table(group)
        if hidden.get(kind):
            lines.append(f"  ... {hidden[kind]} more (--limit=0 shows all)")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _count_text(shown, total):
    return f"{total}" if shown == total else f"{shown} of {total}"


def _table(group):
    """The aligned lines of one kind's findings, header first."""
    rows = []
    for finding in group:
        entries = list(zip_longest(finding.files, finding.labels, finding.splits, fillvalue="")) \
            or [("", "", "")]
        for number, (file, label, split) in enumerate(entries):
            first = number == 0
            rows.append((f"{finding.score:.2f}" if first else "", file, label, split,
                         finding.suggested if first else "", finding.why if first else ""))
    keep = [i for i in range(len(_HEADERS)) if i in (0, 5) or any(row[i] for row in rows)]
    table = [tuple(_HEADERS[i] for i in keep)] + [tuple(row[i] for i in keep) for row in rows]
    widths = [max(len(row[c]) for row in table) for c in range(len(keep))]
    return ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in table]


def records(findings, limit=None):
    """One plain dict per finding (:meth:`Finding.record`), in report order.

    Args:
        findings: :class:`Finding` objects.
        limit: findings per kind (None or 0: all).
    """
    return [f.record() for f in limited(findings, limit)[0]]


def render_json(findings, limit=None):
    """A JSON array of :func:`records` (keys as :data:`RECORD_FIELDS`), one record a line."""
    lines = [json.dumps(record, ensure_ascii=False) for record in records(findings, limit)]
    return "[\n" + ",\n".join(f"  {line}" for line in lines) + "\n]" if lines else "[]"


def render_csv(findings, limit=None):
    """CSV with a header row of :data:`RECORD_FIELDS`, one row per finding.

    The list fields (files, labels, splits) are JSON arrays in their cell, as in
    ``ml list --output=csv``, so a file name holding a comma stays one name.
    """
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(RECORD_FIELDS)
    for record in records(findings, limit):
        writer.writerow([json.dumps(record[k]) if isinstance(record[k], list) else record[k]
                         for k in RECORD_FIELDS])
    return stream.getvalue().rstrip("\n")


def summary_line(findings, kinds, images):
    """One line: how many findings of each kind checked, in how many images.

    Args:
        findings: every :class:`Finding` (not only those shown).
        kinds: the kinds that were looked for, in any order.
        images: how many files were audited (readable or not).

    Returns:
        e.g. ``12 findings in 101 images: 3 label, 1 conflict, 0 leak, ...``.
    """
    counts = {kind: 0 for kind in KINDS if kind in kinds}
    for finding in findings:
        counts[finding.kind] = counts.get(finding.kind, 0) + 1
    total = sum(counts.values())
    noun = "finding" if total == 1 else "findings"
    parts = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    return f"{total} {noun} in {images} image{'' if images == 1 else 's'}: {parts}"


def sheet_lines(paths):
    """The lines naming the contact sheets written ('' when none were)."""
    if not paths:
        return ""
    return "\n".join(["Contact sheets:"] + [f"  {p}" for p in paths])
