"""`ml list`: table, sorting, filters, columns, csv/json, empty folders (a crashed
run's real process and the real ``ml list`` are in tests/e2e/test_list.py)."""
import csv
import datetime
import io
import json

import pytest

from vergeml.commands.list import EMPTY_HINT, ListCommand
from vergeml.instances.listing import extract_filters
from vergeml.errors import UsageError

from tests.unit.list_helpers import HEADER, env, make_run, run_list, runs, table
# (env, runs: fixtures)


def local(iso):
    return datetime.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")


# -- default table ----------------------------------------------------------------------

def test_default_table_matches_seed(env, runs, capsys):
    rows = table(run_list(env, capsys).out)
    assert rows[0] == HEADER
    assert rows[1] == ["nervous-tron", "inceptionv3", "finished",
                       local("2018-09-06T19:43:00+00:00"), "20", "64", "0.877", "0.244"]
    assert rows[2] == ["enhanced-autobot", "inceptionv3", "cancelled",
                       local("2018-09-06T18:27:00+00:00"), "3", "64", "", ""]
    assert rows[3][:3] == ["optimum-neuron", "resnet50", "finished"]


def test_alias_is_ls():
    assert "ls" in ListCommand.aliases and ListCommand.name == "list"


def test_order_asc_is_oldest_first(env, runs, capsys):
    rows = table(run_list(env, capsys, order="asc").out)
    assert [r[0] for r in rows[1:]] == ["optimum-neuron", "enhanced-autobot", "nervous-tron"]


def test_sort_by_metric_missing_last_in_both_orders(env, runs, capsys):
    desc = table(run_list(env, capsys, sort="test_loss").out)
    assert [r[0] for r in desc[1:]] == ["nervous-tron", "optimum-neuron", "enhanced-autobot"]
    asc = table(run_list(env, capsys, sort="test-loss", order="asc").out)
    assert [r[0] for r in asc[1:]] == ["optimum-neuron", "nervous-tron", "enhanced-autobot"]


def test_sort_mixed_types_does_not_crash(env, runs, capsys, tmp_path):
    make_run(tmp_path, "odd-bot", results={"test_acc": "n/a", "epochs_done": "x"})
    make_run(tmp_path, "bare-bot", results={})
    for key in ("test_acc", "status", "epoch", "dropout,instance", "nothing"):
        rows = table(run_list(env, capsys, sort=key).out)
        assert len(rows) == 6


def test_unknown_sort_key_is_warned(env, runs, capsys):
    captured = run_list(env, capsys, sort="test_acc,test_acx")
    assert "no instance has sort key 'test_acx'. Did you mean 'test_acc'?" in captured.err
    assert "sort key 'test_acc'" not in captured.err


def test_multi_key_sort(env, runs, capsys):
    rows = table(run_list(env, capsys, sort="model,test_acc", order="asc").out)
    # within inceptionv3 the cancelled run has no test_acc, so it goes last
    assert [r[0] for r in rows[1:]] == ["nervous-tron", "enhanced-autobot", "optimum-neuron"]


# -- filters ------------------------------------------------------------------------------

def test_filter_numeric(env, runs, capsys):
    rows = table(run_list(env, capsys, "test_acc", "-gt", "0.9").out)
    assert [r[0] for r in rows[1:]] == ["optimum-neuron"]


def test_filter_hyphen_and_underscore_are_same(env, runs, capsys):
    a = run_list(env, capsys, "test-acc", "-gte", "0.8").out
    b = run_list(env, capsys, "test_acc", "-gte", "0.8").out
    assert a == b and len(table(a)) == 3
    rows = table(run_list(env, capsys, "learning-rate", "-eq", "0.01").out)
    assert [r[0] for r in rows[1:]] == ["optimum-neuron"]


@pytest.mark.parametrize("triple,expected", [
    (("status", "-eq", "Finished"), {"nervous-tron", "optimum-neuron"}),
    (("status", "-neq", "finished"), {"enhanced-autobot"}),
    (("dropout", "-lt", "0.5"), {"optimum-neuron"}),
    (("dropout", "-lte", "0.5"), {"optimum-neuron", "nervous-tron"}),
    (("epoch", "-eq", "3"), {"enhanced-autobot"}),
    (("model", "-eq", "resnet50"), {"optimum-neuron"}),
])
def test_filter_operators(env, runs, capsys, triple, expected):
    rows = table(run_list(env, capsys, *triple).out)
    assert {r[0] for r in rows[1:]} == expected


def test_rows_without_key_are_excluded_and_typo_warned(env, runs, capsys):
    result = run_list(env, capsys, "val_acc", "-neq", "0")
    assert [r[0] for r in table(result.out)[1:]] == ["nervous-tron"]
    result = run_list(env, capsys, "test_ac", "-gt", "0")
    assert result.out == ""
    assert "Did you mean 'test_acc'?" in result.err and "no instances match" in result.err


def test_several_filters_combine(env, runs, capsys):
    rows = table(run_list(env, capsys, "test_acc", "-gt", "0.8", "dropout", "-gt", "0.3").out)
    assert [r[0] for r in rows[1:]] == ["nervous-tron"]


def test_extract_filters_anywhere():
    rest, found = extract_filters(["-s", "x", "test_acc", "-gt", "0.8", "--output", "csv",
                                   "loss", "-LT", "-1"])
    assert rest == ["-s", "x", "--output", "csv"]
    assert found == [("test_acc", "-gt", "0.8"), ("loss", "-lt", "-1")]


@pytest.mark.parametrize("tokens", [["-gt", "3"], ["acc", "-gt"], ["--output", "-gt", "1"],
                                    ["acc", "-gt", "1", "-lt", "2"]])
def test_operator_without_operands_is_usage_error(tokens):
    with pytest.raises(UsageError, match="needs a key"):
        ListCommand().preparse(tokens)


# -- columns and formats ------------------------------------------------------------------

def test_columns_any_key(env, runs, capsys):
    rows = table(run_list(env, capsys, columns="instance,learning-rate,dropout,val_acc").out)
    assert rows[0] == ["instance", "learning_rate", "dropout", "val_acc"]
    assert rows[1] == ["nervous-tron", "0.001", "0.500", "0.900"]
    assert rows[3] == ["optimum-neuron", "0.010", "0.200", ""]


def test_small_floats_keep_significant_digits(env, tmp_path, capsys):
    make_run(tmp_path, "tiny-bot", hp={"learning_rate": 0.0001, "decay": 2.5e-06})
    rows = table(run_list(env, capsys, columns="learning_rate,decay").out)
    assert rows[1] == ["tiny-bot", "0.0001", "2.5e-06"]  # the instance column always comes first


def test_huge_floats_are_short(env, tmp_path, capsys):
    make_run(tmp_path, "wild-bot", hp={"learning_rate": 1e300, "decay": 123456.0})
    rows = table(run_list(env, capsys, columns="learning_rate,decay").out)
    assert rows[1] == ["wild-bot", "1e+300", "123456.000"]  # a diverging run's rate, not 300 digits


def test_csv_has_consistent_columns(env, runs, capsys):
    out = run_list(env, capsys, output="csv", columns="instance,val_acc,test_acc").out
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["instance", "val_acc", "test_acc"]
    assert all(len(r) == 3 for r in rows) and len(rows) == 4
    assert rows[1] == ["nervous-tron", "0.9", "0.8766"]
    assert rows[2] == ["enhanced-autobot", "", ""]


def test_default_csv_header(env, runs, capsys):
    out = run_list(env, capsys, output="csv").out
    assert out.splitlines()[0] == ",".join(HEADER)


def test_json_output(env, runs, capsys):
    # --format is an alias of --output
    data = json.loads(run_list(env, capsys, format="json").out)
    assert [list(row) for row in data] == [HEADER] * 3
    assert data[0]["test_acc"] == 0.8766 and data[0]["epoch"] == 20
    assert data[1]["test_acc"] is None


@pytest.mark.parametrize("output,expected", [("table", ""), ("csv", ",".join(HEADER) + "\n"),
                                             ("json", "[]\n")])
def test_empty_or_missing_folder(env, capsys, tmp_path, output, expected):
    result = run_list(env, capsys, output=output)
    assert result.out == expected and EMPTY_HINT in result.err
    (tmp_path / "trainings").mkdir()
    (tmp_path / "trainings" / "notes.txt").write_text("not a run")
    result = run_list(env, capsys, output=output)
    assert result.out == expected and EMPTY_HINT in result.err
