"""Resuming runs started with their own data settings (issue 23).

A run killed with ``kill -9`` after its first committed epoch resumes with the
settings it was started with: its own ``--random-seed``, ``--val-split`` and
``--test-split``, the project file's seed as it was then. The samples keep the
splits the run recorded. A refused resume names what changed and writes
nothing: ``vergeml.splits.json``, the cache database and ``data.yaml`` stay
byte-identical.
"""
import csv
import shutil
import sqlite3

import pytest

from tests.e2e.conftest import instance_names, read_metadata
from tests.reliability.fault_helpers import (ARGS, SPLITS_FILE, assert_resumes, copy_project,
                                             reference, run_ml, split_test_files, statuses)

pytestmark = pytest.mark.e2e
NAME = "res"


@pytest.fixture(scope="module")
def ref(tmp_path_factory, ml_env):
    return reference(tmp_path_factory, ml_env)


def killed_run(ref, ml_env, target, *args, project_yaml=None):
    """A project whose run ``res``, started with ``args``, was killed in its second epoch."""
    project = copy_project(ref, target)
    if project_yaml is not None:
        (project / "vergeml.yaml").write_text(project_yaml)
    result = run_ml(project, ml_env, "train", *ARGS, *args, f"--name={NAME}",
                    point="top.epoch", hit=2)
    assert result.returncode == -9, result.output[-3000:]
    assert statuses(project, ml_env) == {NAME: "crashed"}
    return project


@pytest.fixture(scope="module")
def seed_run(ref, ml_env, tmp_path_factory):
    """The killed run of ``--random-seed=2`` (tests copy it)."""
    return killed_run(ref, ml_env, tmp_path_factory.mktemp("seed") / "project", "--random-seed=2")


def copy_of(project, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(project, target)
    return target


def recorded(project):
    """file -> split of the run's ``samples.csv``."""
    with open(project / "trainings" / NAME / "samples.csv", newline="") as handle:
        return {row["file"]: row["split"] for row in csv.DictReader(handle)}


def snapshot(project):
    """What a refused resume must leave alone: the split memory and the run's metadata
    byte for byte, and every row of the cache database (its file may be rewritten by
    SQLite's checkpoint of the killed run's journal, with the same content)."""
    files = [project / SPLITS_FILE, project / "trainings" / NAME / "data.yaml"]
    with sqlite3.connect(project / ".cache" / "cache.db") as db:
        rows = {table: sorted(db.execute(f"SELECT * FROM {table}").fetchall())
                for table in ("meta", "files", "verdicts", "entries")}
    return {path.name: path.read_bytes() for path in files} | rows


def assert_resumed_on_its_own_split(project, ml_env, data):
    before = (project / SPLITS_FILE).read_bytes()
    meta = assert_resumes(project, ml_env, NAME)
    assert {k: meta["data"][k] for k in data} == data
    splits = recorded(project)
    assert split_test_files(project / "trainings" / NAME) == sorted(
        f for f, split in splits.items() if split == "test")
    assert (project / SPLITS_FILE).read_bytes() == before  # resuming assigns nothing anew
    return meta


def test_a_run_with_its_own_seed_resumes(seed_run, ml_env, tmp_path, ref):
    project = copy_of(seed_run, tmp_path)
    data = read_metadata(project, NAME)["data"]
    assert data["random_seed"] == 2 and data["settings"]["random_seed"] == 2
    assert recorded(project) != {}
    meta = assert_resumed_on_its_own_split(project, ml_env, {"random_seed": 2, "num_test": data["num_test"]})
    assert split_test_files(project / "trainings" / NAME) != ref.test_files  # seed 2's split, not 42's
    assert meta["hyperparameters"]["epochs"] == 3


def test_a_run_with_its_own_split_settings_resumes(ref, ml_env, tmp_path):
    project = killed_run(ref, ml_env, tmp_path / "project", "--val-split=20", "--test-split=15%")
    data = read_metadata(project, NAME)["data"]
    assert (data["num_val"], data["num_test"]) == (20, 50)
    assert_resumed_on_its_own_split(project, ml_env, {"num_val": 20, "num_test": 50})


def test_a_project_file_edited_after_the_start_does_not_change_the_run(ref, ml_env, tmp_path):
    project = killed_run(ref, ml_env, tmp_path / "project",
                         project_yaml="model: imagenet\nrandom-seed: 7\nval-split: 15%\n")
    data = read_metadata(project, NAME)["data"]
    (project / "vergeml.yaml").write_text("model: imagenet\nrandom-seed: 8\nval-split: 10%\n"
                                          "train:\n  learning-rate: 0.5\n")
    assert_resumed_on_its_own_split(project, ml_env, {"random_seed": 7, "num_val": data["num_val"]})


def test_a_refused_resume_names_the_change_and_writes_nothing(seed_run, ml_env, tmp_path):
    project = copy_of(seed_run, tmp_path)
    added = project / "samples" / "3" / "zz-new.png"
    shutil.copy(project / "samples" / "3" / "001.png", added)
    (project / "samples" / "5" / "002.png").unlink()
    before = snapshot(project)
    result = run_ml(project, ml_env, f"@{NAME}", "resume")
    assert result.returncode == 1 and "Traceback" not in result.output, result.output[-2000:]
    assert "1 file(s) added (3/zz-new.png), 1 removed (5/002.png)" in result.stderr, result.stderr
    assert snapshot(project) == before
    assert statuses(project, ml_env) == {NAME: "crashed"}

    added.unlink()  # an edit in place is named too
    edited = project / "samples" / "7" / "004.png"
    edited.write_bytes((project / "samples" / "7" / "005.png").read_bytes())
    result = run_ml(project, ml_env, f"@{NAME}", "resume")
    assert result.returncode == 1 and "changed (7/004.png)" in result.stderr, result.stderr
    assert snapshot(project) == before


def test_a_different_data_setting_typed_on_resume_is_a_usage_error(seed_run, ml_env, tmp_path):
    project = copy_of(seed_run, tmp_path)
    before = snapshot(project)
    result = run_ml(project, ml_env, f"@{NAME}", "resume", "--random-seed=3", "--val-split=30%")
    assert result.returncode == 2, result.output[-2000:]
    assert "--random-seed 3 (the run has 2), --val-split 30% (the run has 10%)" in result.stderr
    assert snapshot(project) == before
    # The run's own values may be repeated; ml train --resume ignores the project file's train: section.
    (project / "vergeml.yaml").write_text("model: imagenet\ntrain:\n  learning-rate: 0.5\n")
    result = run_ml(project, ml_env, "train", f"--resume=@{NAME}", "--random-seed=2", "--val-split=10%")
    assert result.returncode == 0, result.output[-3000:]
    assert read_metadata(project, NAME)["status"] == "finished"
    assert instance_names(project) == [NAME]
