"""`ml list -c ...` keeps the instance column first, so rows can be told apart."""
import csv
import io
import json

import pytest
import yaml

from vergeml.commands.list import ListCommand
from vergeml.settings.project_settings import GLOBAL_OPTIONS
from vergeml.settings.environment import Environment


@pytest.fixture
def env(tmp_path):
    for name, rate, start in (("alpha-tron", 0.01, "2026-01-02T10:00:00+00:00"),
                              ("beta-tron", 0.01, "2026-01-01T10:00:00+00:00")):
        folder = tmp_path / "trainings" / name
        folder.mkdir(parents=True)
        (folder / "data.yaml").write_text(yaml.safe_dump(
            {"name": name, "model": "imagenet", "status": "finished",
             "hyperparameters": {"learning_rate": rate, "dropout": 0.5},
             "results": {"training_start": start, "test_acc": 0.9}}))
    return Environment(tmp_path, settings=GLOBAL_OPTIONS.resolve({}, {}))


def run_list(env, capsys, **options):
    cmd = ListCommand()
    args = cmd.option_set().resolve(options, {})
    assert cmd.run(args, env) == 0
    return capsys.readouterr().out


def csv_rows(env, capsys, columns):
    return list(csv.reader(io.StringIO(run_list(env, capsys, output="csv", columns=columns))))


def test_columns_without_instance_get_it_first(env, capsys):
    rows = csv_rows(env, capsys, "learning_rate,dropout")
    assert rows == [["instance", "learning_rate", "dropout"],
                    ["alpha-tron", "0.01", "0.5"], ["beta-tron", "0.01", "0.5"]]


@pytest.mark.parametrize("columns", ["test_acc,instance", "test_acc,name", "instance,test_acc"])
def test_instance_given_elsewhere_moves_first_once(env, capsys, columns):
    assert csv_rows(env, capsys, columns)[0] == ["instance", "test_acc"]


def test_table_and_json_too(env, capsys):
    header = run_list(env, capsys, columns="dropout").splitlines()[0]
    assert [c.strip() for c in header.strip("|").split("|")] == ["instance", "dropout"]
    data = json.loads(run_list(env, capsys, output="json", columns="dropout"))
    assert [list(row) for row in data] == [["instance", "dropout"]] * 2
    assert [row["instance"] for row in data] == ["alpha-tron", "beta-tron"]


def test_the_default_columns_are_unchanged():
    from vergeml.instances.listing import DEFAULT_COLUMNS, instance_first
    assert instance_first(list(DEFAULT_COLUMNS)) == list(DEFAULT_COLUMNS)
