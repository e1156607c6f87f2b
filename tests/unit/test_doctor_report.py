"""What ``ml doctor`` prints (vergeml/doctor/report.py): the table grouped by kind, most
certain first, ``--limit`` per kind, json and csv records, the summary line."""
import csv
import io
import json

from vergeml.doctor.findings import KINDS, Finding
from vergeml.doctor.report import (DEFAULT_LIMIT, RECORD_FIELDS, limited, records, render_csv,
                                   render_json, render_table, sheet_lines, summary_line)


def label(name, score, suggested="bees", split="train"):
    return Finding("label", (f"samples/ants/{name}",), score, f"p({suggested})={score:.2f}",
                   ("ants",), (split,), suggested)


def group(kind, score, *files):
    labels = tuple(f.split("/")[-2] for f in files)
    splits = tuple("test" if f.startswith("test/") else "train" for f in files)
    return Finding(kind, files, score, f"{len(files)} copies", labels, splits)


FINDINGS = [
    Finding("imbalance", (), 0.4, "bees 10, ants 40 (1:4)"),
    label("a.jpg", 0.61),
    group("leak", 1.0, "samples/bees/x.jpg", "test/bees/x-copy.jpg"),
    label("b.jpg", 0.97),
    group("conflict", 0.99, "samples/ants/y.jpg", "samples/bees/y.jpg"),
    label("c.jpg", 0.80),
]


def lines_of(text):
    return text.splitlines()


# -- grouping and order ---------------------------------------------------------------------

def test_groups_follow_the_kinds_order_and_the_most_certain_comes_first():
    text = render_table(FINDINGS)
    headings = [line.split(":")[0] for line in lines_of(text) if line and not line.startswith(" ")]
    assert headings == ["label", "conflict", "leak", "imbalance"]
    assert [k for k in KINDS if k in headings] == headings
    label_files = {f"samples/ants/{name}" for name in ("a.jpg", "b.jpg", "c.jpg")}
    rows = [line.split() for line in lines_of(text)]
    assert [(r[0], r[1]) for r in rows if len(r) > 1 and r[1] in label_files] == [
        ("0.97", "samples/ants/b.jpg"), ("0.80", "samples/ants/c.jpg"), ("0.61", "samples/ants/a.jpg")]


def test_a_label_row_shows_score_file_label_split_suggestion_and_why():
    text = render_table([label("b.jpg", 0.97)])
    heading, header, row = lines_of(text)
    assert heading == "label: labels that are probably wrong (1)"
    assert header.split() == ["score", "file", "label", "split", "suggested", "why"]
    assert row.split() == ["0.97", "samples/ants/b.jpg", "ants", "train", "bees", "p(bees)=0.97"]
    # Columns line up: every cell starts where its header does.
    assert row.index("samples/") == header.index("file") and row.index("bees") == header.index("suggested")


def test_a_group_of_copies_takes_a_line_per_file_with_score_and_why_on_the_first():
    text = render_table([group("leak", 1.0, "samples/bees/x.jpg", "test/bees/x-copy.jpg")])
    _, header, first, second = lines_of(text)
    assert "suggested" not in header  # no leak has a suggestion: the column is left out
    assert first.split() == ["1.00", "samples/bees/x.jpg", "bees", "train", "2", "copies"]
    assert second.split() == ["test/bees/x-copy.jpg", "bees", "test"]
    assert second.index("test/") == first.index("samples/")


def test_a_finding_without_files_has_no_file_columns():
    text = render_table([Finding("imbalance", (), 0.4, "bees 10, ants 40 (1:4)")])
    _, header, row = lines_of(text)
    assert header.split() == ["score", "why"]
    assert row.split() == ["0.40", "bees", "10,", "ants", "40", "(1:4)"]


def test_no_findings_print_nothing():
    assert render_table([]) == ""
    assert render_json([]) == "[]" and json.loads(render_json([])) == []
    assert render_csv([]).splitlines() == [",".join(RECORD_FIELDS)]


# -- limits ---------------------------------------------------------------------------------

def many(count):
    return [label(f"{i:03d}.jpg", 0.5 + i / 1000) for i in range(count)]


def test_the_table_shows_ten_per_kind_by_default_and_says_how_many_more():
    text = render_table(many(13) + [group("conflict", 1.0, "samples/ants/y.jpg", "samples/bees/y.jpg")])
    assert DEFAULT_LIMIT == 10
    assert "label: labels that are probably wrong (10 of 13)" in text
    assert "  ... 3 more (--limit=0 shows all)" in text
    label_rows = [line for line in lines_of(text) if line.startswith("  0.")]
    assert len(label_rows) == 10
    assert "012.jpg" in text and "000.jpg" not in text  # the most certain are the ones shown
    assert "conflict: copies of one image under different labels (1)" in text


def test_limit_zero_shows_all_and_a_limit_applies_per_kind():
    assert "more (--limit=0" not in render_table(many(13), limit=0)
    shown, hidden = limited(many(4) + [group("leak", 1.0, "a/x.jpg", "b/x.jpg")] * 3, 2)
    assert [f.kind for f in shown] == ["label", "label", "leak", "leak"]
    assert hidden == {"label": 2, "leak": 1}


def test_json_and_csv_list_every_finding_unless_a_limit_is_given():
    assert len(json.loads(render_json(many(25)))) == 25
    assert len(json.loads(render_json(many(25), limit=5))) == 5
    assert len(list(csv.DictReader(io.StringIO(render_csv(many(25)))))) == 25


# -- records --------------------------------------------------------------------------------

def test_json_is_one_record_per_finding_per_line_in_report_order():
    text = render_json(FINDINGS)
    lines = lines_of(text)
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == len(FINDINGS) + 2
    parsed = json.loads(text)
    assert [r["kind"] for r in parsed] == ["label"] * 3 + ["conflict", "leak", "imbalance"]
    first = parsed[0]
    assert tuple(first) == RECORD_FIELDS
    assert first == {"kind": "label", "files": ["samples/ants/b.jpg"], "labels": ["ants"],
                     "splits": ["train"], "suggested": "bees", "score": 0.97, "why": "p(bees)=0.97"}
    assert parsed[4]["files"] == ["samples/bees/x.jpg", "test/bees/x-copy.jpg"]
    assert parsed[4]["splits"] == ["train", "test"]


def test_csv_has_a_header_and_the_lists_as_json_arrays():
    odd = Finding("duplicate", ("samples/ants/a, b.jpg", "samples/ants/ü \"q\".jpg"), 0.9, "near copies",
                  ("ants", "ants"), ("train", "val"))
    rows = list(csv.DictReader(io.StringIO(render_csv([odd] + FINDINGS))))
    assert len(rows) == len(FINDINGS) + 1
    assert tuple(rows[0]) == RECORD_FIELDS
    duplicate = next(r for r in rows if r["kind"] == "duplicate")
    assert json.loads(duplicate["files"]) == list(odd.files)
    assert json.loads(duplicate["splits"]) == ["train", "val"]
    assert float(duplicate["score"]) == 0.9 and duplicate["suggested"] == ""
    assert [r["kind"] for r in rows] == [r["kind"] for r in records([odd] + FINDINGS)]


# -- summary --------------------------------------------------------------------------------

def test_the_summary_counts_every_kind_checked_even_those_without_findings():
    line = summary_line(FINDINGS + many(12), KINDS, images=245)
    assert line == ("18 findings in 245 images: 15 label, 1 conflict, 1 leak, 0 duplicate, "
                    "0 outlier, 0 quality, 1 imbalance")
    assert summary_line([], ("quality",), images=1) == "0 findings in 1 image: 0 quality"
    assert summary_line([label("a.jpg", 0.9)], ("quality", "label"), 2) == \
        "1 finding in 2 images: 1 label, 0 quality"


def test_sheet_lines_name_each_sheet():
    assert sheet_lines([]) == ""
    assert sheet_lines(["doctor/label.png", "doctor/leak.png"]).splitlines() == [
        "Contact sheets:", "  doctor/label.png", "  doctor/leak.png"]
