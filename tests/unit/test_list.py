"""`ml list`: table, sorting, filters, columns, csv/json, empty folders."""
import csv
import datetime
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from vergeml.commands.list import EMPTY_HINT, ListCommand
from vergeml.instances.listing import extract_filters
from vergeml.config import GLOBAL_OPTIONS
from vergeml.env import Environment
from vergeml.errors import UsageError

from tests.conftest import run_ml_process

HEADER = ["instance", "model", "status", "training_start", "epoch", "batch", "test_acc",
          "test_loss"]


def make_run(root, name, status="finished", start="2026-01-01T10:00:00+00:00",
             backbone="mobilenet", hp=None, results=None, **meta):
    """Write a data.yaml the way a training run does."""
    folder = Path(root) / "trainings" / name
    folder.mkdir(parents=True)
    data = {"name": name, "model": "imagenet", "backbone": backbone, "status": status,
            "hyperparameters": {"batch_size": 64, "learning_rate": 0.001, **(hp or {})},
            "results": {"training_start": start, **(results or {})}, **meta}
    (folder / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


@pytest.fixture
def env(tmp_path):
    return Environment(tmp_path, settings=GLOBAL_OPTIONS.resolve({}, {}))


@pytest.fixture
def runs(tmp_path):
    make_run(tmp_path, "nervous-tron", start="2018-09-06T19:43:00+00:00", backbone="inceptionv3",
             hp={"dropout": 0.5}, results={"epochs_done": 20, "test_acc": 0.8766,
                                          "test_loss": 0.2444, "val_acc": 0.9})
    make_run(tmp_path, "enhanced-autobot", status="cancelled", start="2018-09-06T18:27:00+00:00",
             backbone="inceptionv3", results={"epochs_done": 3, "test_acc": 0.5})
    make_run(tmp_path, "optimum-neuron", start="2018-09-06T18:14:00+00:00", backbone="resnet50",
             hp={"learning_rate": 0.01, "dropout": 0.2},
             results={"epochs_done": 20, "test_acc": 0.914, "test_loss": 0.178})
    return tmp_path


def run_list(env, capsys, *filters, **options):
    """Run the command as the CLI would: preparse, resolve, run."""
    cmd = ListCommand()
    rest, extra = cmd.preparse(list(filters))
    assert rest == []
    args = cmd.option_set().resolve(options, {})
    args.update(extra)
    assert cmd.run(args, env) == 0
    return capsys.readouterr()


def table(out):
    """Parse a GitHub-style table into rows of stripped cells (header first)."""
    lines = [l for l in out.strip().splitlines() if not set(l) <= set("|-: ")]
    return [[c.strip() for c in l.strip().strip("|").split("|")] for l in lines]


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
    assert rows[1] == ["0.0001", "2.5e-06"]


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


def test_crashed_and_broken_are_listed(env, runs, capsys, tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    make_run(tmp_path, "dead-bot", status="running", start="2030-01-01T00:00:00+00:00",
             pid=proc.pid, host=os.uname().nodename)
    (tmp_path / "trainings" / "half-bot").mkdir()
    (tmp_path / "trainings" / "half-bot" / "data.yaml").write_text("name: half-bot\nmod")
    result = run_list(env, capsys)
    rows = table(result.out)
    assert rows[1][:3] == ["dead-bot", "mobilenet", "crashed"]
    assert rows[-1][:3] == ["half-bot", "", "broken"]
    assert len(rows) == 6
    assert "half-bot" in result.err and "Traceback" not in result.err


@pytest.mark.parametrize("output,expected", [("table", ""), ("csv", ",".join(HEADER) + "\n"),
                                             ("json", "[]\n")])
def test_empty_or_missing_folder(env, capsys, tmp_path, output, expected):
    result = run_list(env, capsys, output=output)
    assert result.out == expected and EMPTY_HINT in result.err
    (tmp_path / "trainings").mkdir()
    (tmp_path / "trainings" / "notes.txt").write_text("not a run")
    result = run_list(env, capsys, output=output)
    assert result.out == expected and EMPTY_HINT in result.err


def test_modules_do_not_import_tensorflow():
    code = ("import sys, vergeml.commands.list, vergeml.instances; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- the real command line -----------------------------------------------------------------

def ml(*args, cwd):
    """The real ``ml`` in a subprocess (the venv's script, else ``python -m vergeml``)."""
    return run_ml_process(*args, cwd=cwd, timeout=60)


def test_cli_list(runs):
    result = ml("list", cwd=runs)
    assert result.returncode == 0, result.stderr
    assert table(result.stdout)[0] == HEADER and len(table(result.stdout)) == 4


def test_cli_ls_with_options_and_filter(runs):
    result = ml("ls", "test_acc", "-gt", "0.8", "-c", "instance,test_acc", "--format", "csv",
                "-o", "asc", cwd=runs)
    assert result.returncode == 0, result.stderr
    # ascending by training_start: optimum-neuron (18:14) before nervous-tron (19:43)
    assert result.stdout.splitlines() == ["instance,test_acc", "optimum-neuron,0.914",
                                          "nervous-tron,0.8766"]


def test_cli_empty(tmp_path):
    result = ml("list", cwd=tmp_path)
    assert result.returncode == 0 and EMPTY_HINT in result.stderr + result.stdout


def test_cli_usage_errors_exit_2(runs):
    result = ml("list", "-gt", "1", cwd=runs)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("Error: filter -gt needs a key before it and a value after it")
    result = ml("list", "--order", "up", cwd=runs)
    assert result.returncode == 2 and result.stdout == ""
    assert 'Error: --order: expected one of asc, desc, got "up"' in result.stderr


def test_cli_does_not_import_tensorflow(runs):
    code = ("import sys; from vergeml.cli import main; rc = main(['list']); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]; "
            "assert not bad, bad; sys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", code], cwd=runs, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
