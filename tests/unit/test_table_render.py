"""``vergeml.instances.table_render``: the ``ml list`` table, byte for byte tabulate's.

Every table is rendered both ways, ours and ``tabulate(..., tablefmt="github",
disable_numparse=True, colalign=...)`` as ``ml list`` called it before, and
must be equal: ASCII and wide (CJK) text, accents and combining marks, empty
cells, numbers as text, padding spaces, no rows, and the cells the fast path
hands to tabulate (line breaks, tabs, colour codes).
"""
import random

import pytest
import tabulate as tabulate_module
from tabulate import tabulate

from vergeml.instances import table_render
from vergeml.instances.table_render import github_columns, github_table

ASCII_WORDS = ["nervous-tron", "mobilenet", "finished", "2026-01-01 10:00", "0.875", "20", "",
               "True", "False", "-", "a b", " padded ", "0.000123", "1e-05", "x" * 40, "|"]
UNICODE_WORDS = ["ü", "漢字", "ｶﾀｶﾅ", "e\u0301", "Tabby Cat", "Ünïcödé", "😀", "naïve  ", "中文-run",
                 "ß"]
# Not printable (str.isprintable): rendered by tabulate itself.
ODD_WORDS = ["two\nlines", "tab\there", "\x1b[31mred\x1b[0m", "\x01", "cr\r", "bell\x07",
             "\u3000wide space", "no\xa0break"]


def tabulate_reference(headers, rows, aligns):
    return tabulate(rows, headers=list(headers), tablefmt="github", disable_numparse=True,
                    colalign=list(aligns))


def random_table(rng, words, max_rows=6, max_cols=5):
    cols = rng.randint(1, max_cols)
    headers = [rng.choice(["instance", "test_acc", "model", "a", "learning_rate", "x_" * 8]
                          + words) for _ in range(cols)]
    rows = [[rng.choice(words) for _ in range(cols)] for _ in range(rng.randint(0, max_rows))]
    aligns = [rng.choice(["left", "right"]) for _ in range(cols)]
    return headers, rows, aligns


@pytest.mark.parametrize("words", [ASCII_WORDS, ASCII_WORDS + UNICODE_WORDS,
                                   ASCII_WORDS + UNICODE_WORDS + ODD_WORDS],
                         ids=["ascii", "unicode", "control-characters"])
def test_random_tables_equal_tabulate(words):
    rng = random.Random(len(words))
    for _ in range(400):
        headers, rows, aligns = random_table(rng, words)
        assert github_table(headers, rows, aligns) == tabulate_reference(headers, rows, aligns), \
            (headers, rows, aligns)


@pytest.mark.parametrize("headers, rows, aligns", [
    (["instance", "test_acc"], [["a", "0.5"], ["bbbbbbbbbbbb", "12.25"]], ["left", "right"]),
    (["instance", "test_acc"], [], ["left", "right"]),  # no rows: every header left
    (["instance"], [[""]], ["right"]),
    (["x"], [["漢字漢字漢字"], ["a"]], ["right"]),  # wide cells wider than the header
    (["名前", "acc"], [["ü", "1"]], ["left", "right"]),  # wide header
    (["a"], [["  spaced  "], [" "]], ["left"]),  # cells are stripped, headers not
    ([" h "], [["v"]], ["right"]),
    (["instance", "status"], [["run", "True"], ["run2", "False"]], ["left", "left"]),
])
def test_edge_tables_equal_tabulate(headers, rows, aligns):
    assert github_table(headers, rows, aligns) == tabulate_reference(headers, rows, aligns)


def test_columns_form_equals_rows_form():
    rng = random.Random(7)
    for _ in range(100):
        headers, rows, aligns = random_table(rng, ASCII_WORDS + UNICODE_WORDS)
        columns = [[row[i] for row in rows] for i in range(len(headers))]
        assert github_columns(headers, columns, aligns) == github_table(headers, rows, aligns)


def test_printable_tables_never_use_tabulate(monkeypatch):
    def refuse(*args):
        raise AssertionError("tabulate used for a printable table")
    monkeypatch.setattr(table_render, "_tabulate", refuse)
    rng = random.Random(3)
    for _ in range(100):
        github_table(*random_table(rng, ASCII_WORDS + UNICODE_WORDS))


@pytest.mark.parametrize("cell", ODD_WORDS)
def test_control_characters_go_to_tabulate(monkeypatch, cell):
    calls = []
    monkeypatch.setattr(table_render, "_tabulate", lambda *args: calls.append(args) or "T")
    assert github_table(["h"], [[cell]], ["left"]) == "T" and calls


def test_other_alignments_and_ragged_rows_go_to_tabulate():
    for headers, rows, aligns in ((["a", "b"], [["1", "2"]], ["center", "left"]),
                                  (["a", "b"], [["1"]], ["left", "left"])):
        assert github_table(headers, rows, aligns) == tabulate_reference(headers, rows, aligns)


def test_without_wcwidth_widths_are_lengths_as_in_tabulate(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "wcwidth", None)  # import fails
    monkeypatch.setattr(tabulate_module, "WIDE_CHARS_MODE", False)
    rng = random.Random(11)
    for _ in range(200):
        headers, rows, aligns = random_table(rng, ASCII_WORDS + UNICODE_WORDS)
        assert github_table(headers, rows, aligns) == tabulate_reference(headers, rows, aligns)
