"""Shared by the ``ml list`` tests (no tests here): runs as training writes them, the
command run in-process, and the table parsed back."""
from pathlib import Path

import pytest
import yaml

from vergeml.commands.list import ListCommand
from vergeml.settings.project_settings import GLOBAL_OPTIONS
from vergeml.settings.environment import Environment

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
