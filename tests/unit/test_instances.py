"""Instance folders, metadata and status (vergeml.instances, vergeml.instances.names);
the status of dead and zombie processes is in tests/e2e/test_instances.py."""
import datetime
import os
import random
import re
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from vergeml.instances import folders, metadata
from vergeml.instances import names
from vergeml.errors import UsageError, VergeMLError
from vergeml.instances import Instance, load_instance, read_instance, scan_instances

from tests.unit.instance_helpers import new, stored


# -- names ----------------------------------------------------------------------------

def test_name_lists_are_large_lowercase_and_addressable():
    assert len(set(names.ADJECTIVES)) >= 200 and len(set(names.NOUNS)) >= 100
    for word in names.ADJECTIVES + names.NOUNS:
        assert re.match(r"^[a-z0-9-]+$", word), word


def test_random_name_uses_given_rng_and_not_global():
    random.seed(7)
    state = random.getstate()
    first = names.random_name(random.Random(3))
    assert first == names.random_name(random.Random(3))
    assert re.match(r"^[a-z0-9]+(-[a-z0-9]+)+$", first)
    assert random.getstate() == state


# -- create ---------------------------------------------------------------------------

def test_create_writes_folder_and_metadata(tmp_path):
    inst = new(tmp_path)
    assert inst.path.parent == tmp_path / "trainings"
    for sub in ("checkpoints", "stats", "plots", "tensorboard"):
        assert (inst.path / sub).is_dir()
    data = stored(inst)
    assert list(data)[:7] == ["name", "model", "backbone", "status", "pid", "host", "error"]
    assert data["name"] == inst.name and data["backbone"] == "mobilenet"
    assert data["status"] == "running" and data["pid"] == os.getpid()
    assert data["host"] == socket.gethostname()
    assert data["hyperparameters"] == {"architecture": "mobilenet", "batch_size": 64,
                                       "learning_rate": 0.0001}
    assert abs(data["results"]["created_at"] - time.time()) < 60
    start = datetime.datetime.fromisoformat(data["results"]["training_start"])
    assert start.utcoffset() == datetime.timedelta(0)
    assert set(data["versions"]) >= {"python", "vergeml"}
    assert inst.status == "running"


def test_paths(tmp_path):
    inst = new(tmp_path, name="p")
    assert inst.model_path == inst.path / "checkpoints" / "model.keras"
    assert inst.top_weights_path == inst.path / "checkpoints" / "top.weights.h5"
    assert inst.labels_path == inst.path / "checkpoints" / "labels.txt"
    assert inst.predictions_path == inst.path / "stats" / "test_predictions.npz"
    assert inst.history_path == inst.path / "stats" / "history.csv"
    assert inst.tensorboard_dir == inst.path / "tensorboard"
    assert inst.plots_dir == inst.path / "plots"


def test_names_are_unique_and_global_rng_untouched(tmp_path):
    random.seed(1)
    state = random.getstate()
    made = {new(tmp_path).name for _ in range(40)}
    assert len(made) == 40
    assert random.getstate() == state


def test_name_collision_retries(tmp_path, monkeypatch):
    sequence = iter(["same-bot", "same-bot", "other-bot"])
    monkeypatch.setattr(folders, "random_name", lambda rng: next(sequence))
    assert new(tmp_path).name == "same-bot"
    assert new(tmp_path).name == "other-bot"


@pytest.mark.parametrize("bad", ["a b", "../x", "x/y", "", ".hidden", "näme"])
def test_invalid_name_rejected(tmp_path, bad):
    with pytest.raises(UsageError, match="invalid instance name"):
        new(tmp_path, name=bad)


def test_existing_name_rejected_and_untouched(tmp_path):
    first = new(tmp_path, name="my_run-1")
    first.set_status("finished")
    with pytest.raises(UsageError, match="already exists"):
        new(tmp_path, name="my_run-1")
    assert stored(first)["status"] == "finished"


# -- save / update --------------------------------------------------------------------

def test_atomic_save_leaves_no_temp_files(tmp_path):
    inst = new(tmp_path)
    for epoch in range(5):
        inst.update_results(epochs_done=epoch + 1, val_acc=0.5 + epoch / 10)
    assert sorted(os.listdir(inst.path)) == ["checkpoints", "data.yaml",
                                              "plots", "stats", "tensorboard"]
    assert stored(inst)["results"]["epochs_done"] == 5


def test_update_results_accepts_numpy_values(tmp_path):
    inst = new(tmp_path)
    inst.update_results(acc=np.float32(0.5), num_samples=np.int64(3), labels=("a", "b"))
    results = stored(inst)["results"]
    assert results["acc"] == 0.5 and type(results["num_samples"]) is int
    assert results["labels"] == ["a", "b"]


@pytest.mark.parametrize("status", ["finished", "cancelled", "failed"])
def test_terminal_status_sets_end_and_drops_pid(tmp_path, status):
    inst = new(tmp_path)
    inst.set_status(status, error="boom" if status == "failed" else None)
    data = stored(inst)
    assert data["status"] == status and "pid" not in data
    assert "training_end" in data["results"]
    assert data["error"] == ("boom" if status == "failed" else None)
    assert read_instance(inst.path).status == status


def test_set_status_rejects_unknown(tmp_path):
    with pytest.raises(ValueError):
        new(tmp_path).set_status("crashed")


def test_labels(tmp_path):
    inst = new(tmp_path)
    with pytest.raises(VergeMLError, match="no labels file"):
        inst.labels()
    inst.labels_path.write_text("cat\ndog\n")
    assert inst.labels() == ["cat", "dog"]


# -- status ---------------------------------------------------------------------------

def test_live_pid_is_running(tmp_path):
    assert new(tmp_path).status == "running"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_reused_pid_is_crashed(tmp_path):
    inst = new(tmp_path)
    inst.metadata["results"]["created_at"] = 1000.0  # run older than this process
    assert inst.status == "crashed"


# -- reading --------------------------------------------------------------------------

@pytest.mark.parametrize("content", [None, "", "status: [unclosed\n", "- a\n- b\n",
                                     "name: x\nmodel: imagenet\n", "status: running\nresults: 3\n"])
def test_broken_metadata_is_listed_as_broken(tmp_path, capsys, content):
    good = new(tmp_path, name="good")
    bad = tmp_path / "trainings" / "bad"
    bad.mkdir()
    if content is not None:
        (bad / "data.yaml").write_text(content)
    else:  # no data.yaml, but not a folder killed while it was created: a stray file
        (bad / "notes.txt").write_text("mine")
    found = {i.name: i for i in scan_instances(tmp_path / "trainings")}
    assert found["bad"].status == "broken" and found["good"].status == good.status
    err = capsys.readouterr().err
    assert "@bad" in err and "broken" in err and "Traceback" not in err
    with pytest.raises(VergeMLError, match="broken"):
        load_instance(tmp_path / "trainings", "bad")
    with pytest.raises(VergeMLError, match="refusing"):
        found["bad"].save()


@pytest.mark.parametrize("leftover", [None, ".data.yaml.tmp-123"])
def test_folder_killed_before_its_metadata_is_crashed(tmp_path, capsys, leftover):
    new(tmp_path, name="good")
    folder = folders._reserve(tmp_path / "trainings", "killed")  # as ml train reserves it
    assert read_instance(folder).status == "running"  # being created: its process lives
    claim = folder / metadata.RESERVATION_FILE
    claim.write_text(claim.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {2 ** 22 + 7}'))
    if leftover:
        (folder / leftover).write_text("status: runn")
    found = {i.name: i.status for i in scan_instances(tmp_path / "trainings")}
    assert found["killed"] == "crashed"
    assert {i.name: i.status for i in scan_instances(tmp_path / "trainings", summary=True)} == found
    assert "killed" not in capsys.readouterr().err  # no "broken" warning


def test_an_empty_folder_made_by_hand_is_broken_and_a_saved_run_drops_its_claim(tmp_path, capsys):
    good = new(tmp_path, name="good")
    assert not (good.path / metadata.RESERVATION_FILE).exists()
    (tmp_path / "trainings" / "empty").mkdir()
    found = {i.name: i.status for i in scan_instances(tmp_path / "trainings", summary=True)}
    assert found == {"good": "running", "empty": "broken"}  # docs/list.md: no data.yaml
    assert "@empty: no data.yaml (listed as broken)" in capsys.readouterr().err


def test_half_written_file_is_broken(tmp_path, capsys):
    inst = new(tmp_path, name="half")
    text = inst.metadata_path.read_text()
    inst.metadata_path.write_text(text[: text.index("status:")])
    assert scan_instances(tmp_path / "trainings")[0].status == "broken"


def test_scan_skips_files_and_hidden(tmp_path):
    new(tmp_path, name="run")
    root = tmp_path / "trainings"
    (root / ".hidden").mkdir()
    (root / "notes.txt").write_text("x")
    assert [i.name for i in scan_instances(root)] == ["run"]


def test_scan_missing_dir_is_empty(tmp_path):
    assert scan_instances(tmp_path / "nope") == []


def test_load_instance(tmp_path):
    inst = new(tmp_path, name="nervous-tron")
    root = tmp_path / "trainings"
    assert load_instance(root, "nervous-tron").metadata == inst.metadata
    assert load_instance(root, "@nervous-tron").name == "nervous-tron"


def test_load_unknown_suggests(tmp_path):
    new(tmp_path, name="nervous-tron")
    with pytest.raises(UsageError) as err:
        load_instance(tmp_path / "trainings", "nervous-tro")
    assert "unknown instance @nervous-tro." in err.value.message
    assert "Did you mean '@nervous-tron'?" in err.value.message
    assert err.value.hint == "Run 'ml list' to see all instances."
    with pytest.raises(UsageError, match=r"unknown instance @\.\./x"):
        load_instance(tmp_path / "trainings", "../x")


def test_load_without_trainings_dir(tmp_path):
    with pytest.raises(UsageError, match="no trainings folder"):
        load_instance(tmp_path / "trainings", "x")


def test_instance_defaults_for_missing_sections(tmp_path):
    inst = Instance(tmp_path / "x", {"status": "finished"})
    assert inst.hyperparameters == {} and inst.results == {}


# -- fast summaries for ml list ---------------------------------------------------------

def test_summary_scan_skips_history_and_is_read_only(tmp_path):
    inst = new(tmp_path, name="sum")
    inst.metadata["history"] = [{"epoch": 1, "acc": 0.5}]
    inst.metadata["data"] = {"labels": ["a", "b"]}
    inst.update_results(test_acc=0.9)
    (summary,) = scan_instances(tmp_path / "trainings", summary=True)
    assert summary.partial and "history" not in summary.metadata
    assert summary.results == inst.results and summary.hyperparameters == inst.hyperparameters
    with pytest.raises(VergeMLError, match="summary"):
        summary.save()


def test_broken_runs_in_summary_scan(tmp_path, capsys):
    new(tmp_path, name="good")
    (tmp_path / "trainings" / "bad").mkdir()
    (tmp_path / "trainings" / "bad" / "data.yaml").write_text("history:\n- 1\nstatus: [\n")
    found = {i.name: i.status for i in scan_instances(tmp_path / "trainings", summary=True)}
    assert found == {"good": "running", "bad": "broken"}
    assert "@bad" in capsys.readouterr().err


@pytest.mark.parametrize("doc", [
    "a: 1\nb: 0x1f\nc: 017\nd: .inf\ne: yes\nf: 2026-01-01\ng: 2026-01-01T10:00:00Z\nh: ~\n"
    "i: '1'\nj: 1_000\nk: 1.5e+3\nl: [1, 'x', null]\nm: {<<: {a: 1}, b: 2}\n1: x\n"
    "n: &x [1]\no: *x\np: -.5\nq: 190:20:30\nr: \"1\"\ns: !!str 5\n",
    "", "- 1\n- 2\n", "x",
])
def test_fast_yaml_equals_safe_load(doc):
    for _ in range(2):  # twice: the loader keeps no state between documents
        assert repr(metadata._load_yaml(doc)) == repr(yaml.safe_load(doc))


@pytest.mark.parametrize("text,expected", [
    (b"a: 1\nhistory:\n- epoch: 1\n  acc: 0.5\nb: 2\n", {"a": 1, "b": 2}),
    (b"a: 1\nhistory: [{epoch: 1}]\n# note\nb: 2\n", {"a": 1, "b": 2}),
    (b"a: 1\nhistory:\n  - 1\n", {"a": 1}),
    (b"history_x: 3\n", {"history_x": 3}),
])
def test_drop_top_level(text, expected):
    assert yaml.safe_load(metadata._drop_top_level(text, ("history",))) == expected
