"""``trainings/.index.marshal``: ``ml list`` reads each run's summary from one file.

The index is a cache: whatever it holds, a summary scan must give what
reading every run's files gives (``read_instance(path, skip=SUMMARY_SKIP)``),
and ``ml list`` must print the same bytes. The clock of ``list_index`` is
moved 10 s ahead in most tests, so runs written just now count as settled
(not racy) and are indexed; ``test_just_written_runs_are_read_from_their_files``
keeps the real clock.
"""
import marshal
import os
import shutil
import time

import pytest
import yaml

from tests.unit.list_helpers import env, run_list
from vergeml.instances import SUMMARY_SKIP, Instance, instance_dirs, list_index, read_instance
from vergeml.instances import scan_instances
from vergeml.instances.list_index import INDEX_FILE, load_index


@pytest.fixture
def later(monkeypatch):
    """Scans run 10 s from now: every file written so far has settled."""
    monkeypatch.setattr(list_index, "_clock_ns", lambda: time.time_ns() + 10_000_000_000)


def save_run(root, name, status="finished", **results):
    metadata = {"name": name, "model": "imagenet", "backbone": "mobilenet", "status": status,
                "hyperparameters": {"batch_size": 64, "learning_rate": 0.001, "note": "ü 'x'"},
                "results": {"training_start": "2026-01-01T10:00:00+00:00", "epochs_done": 3,
                            "test_acc": 0.75, "test_loss": float("nan"), **results},
                "history": [{"epoch": 1, "acc": 0.5}], "versions": {"vergeml": "0.2.0"}}
    instance = Instance(root / "trainings" / name, metadata)
    instance.path.mkdir(parents=True)
    instance.save()
    return instance


def view(instances):
    """What a listing can see of the instances (NaN made comparable)."""
    return [(i.name, repr(i.metadata), i.problem, i.partial, str(i.path)) for i in instances]


def from_files(root):
    return view(read_instance(p, skip=SUMMARY_SKIP) for p in instance_dirs(root / "trainings"))


def scan(root):
    return view(scan_instances(root / "trainings", warn=False, summary=True))


def indexed(root):
    return set(load_index(root / "trainings" / INDEX_FILE))


def no_file_reads(monkeypatch):
    """Make reading any run's files fail the test: the index must answer."""
    def refuse(path, skip=()):
        raise AssertionError(f"read {path} from its files")
    monkeypatch.setattr(list_index, "read_instance", refuse)


@pytest.fixture
def runs(tmp_path, later):
    for index, name in enumerate(("alpha-tron", "beta-tron", "gamma-tron")):
        save_run(tmp_path, name, test_acc=index / 10)
    return tmp_path


def test_first_scan_writes_the_index_and_the_second_reads_only_it(runs, monkeypatch):
    expected = from_files(runs)
    assert scan(runs) == expected
    assert indexed(runs) == {"alpha-tron", "beta-tron", "gamma-tron"}
    no_file_reads(monkeypatch)
    assert scan(runs) == expected


def test_a_changed_run_is_read_again(runs):
    scan(runs)
    instance = read_instance(runs / "trainings" / "beta-tron")
    instance.update_results(test_acc=0.99, epochs_done=30)  # atomic replace, as training does
    assert scan(runs) == from_files(runs)
    assert dict(scan_instances(runs / "trainings", summary=True)[1].results)["test_acc"] == 0.99


def test_a_run_edited_in_place_is_read_again(runs):
    scan(runs)
    path = runs / "trainings" / "alpha-tron" / "data.yaml"
    data = yaml.safe_load(path.read_text())
    data["results"]["test_acc"] = 0.5
    with open(path, "w", encoding="utf-8") as handle:  # same inode, as an editor may write
        handle.write(yaml.safe_dump(data) + "\n")
    assert scan(runs) == from_files(runs)


def test_added_and_removed_runs(runs):
    scan(runs)
    save_run(runs, "delta-tron")
    shutil.rmtree(runs / "trainings" / "alpha-tron")
    assert scan(runs) == from_files(runs)
    assert indexed(runs) == {"beta-tron", "gamma-tron", "delta-tron"}


@pytest.mark.parametrize("content", [
    b"", b"garbage", b"\xff" * 100, marshal.dumps(("vergeml list index 1", []), 4),
    marshal.dumps(("another format", {}), 4), marshal.dumps([1, 2, 3], 4),
    marshal.dumps(("vergeml list index 1", {"alpha-tron": "x", "beta-tron": (1, 2, 3),
                                            "gamma-tron": ((0,) * 5, True, [])}), 4),
])
def test_a_corrupt_or_foreign_index_is_ignored_and_rewritten(runs, content):
    expected = scan(runs)
    index_path = runs / "trainings" / INDEX_FILE
    index_path.write_bytes(content)
    assert scan(runs) == expected
    assert indexed(runs) == {"alpha-tron", "beta-tron", "gamma-tron"}


def test_a_truncated_index_is_ignored(runs):
    scan(runs)
    index_path = runs / "trainings" / INDEX_FILE
    index_path.write_bytes(index_path.read_bytes()[:-50])
    assert scan(runs) == from_files(runs)


def test_an_entry_under_another_signature_is_not_used(runs):
    """An older index written back by a slower concurrent listing is still checked."""
    scan(runs)
    index_path = runs / "trainings" / INDEX_FILE
    old_index = index_path.read_bytes()
    read_instance(runs / "trainings" / "gamma-tron").update_results(test_acc=0.42)
    scan(runs)
    index_path.write_bytes(old_index)
    assert scan(runs) == from_files(runs)


def test_just_written_runs_are_read_from_their_files(tmp_path):
    save_run(tmp_path, "fresh-tron")
    assert scan(tmp_path) == from_files(tmp_path)
    assert indexed(tmp_path) == set()  # racy: changed within RACY_NS of the scan


def test_whole_second_file_times_wait_longer():
    second = 1_000_000_000
    signature = (1, 2, 3, 100 * second, 100 * second)
    assert not list_index.settled(signature, 102 * second)  # FAT, ext3: 3 s
    assert list_index.settled(signature, 104 * second)
    fine = (1, 2, 3, 100 * second + 7, 100 * second + 9)
    assert not list_index.settled(fine, 100 * second + 9 + list_index.RACY_NS)
    assert list_index.settled(fine, 100 * second + 10 + list_index.RACY_NS)


def test_broken_runs_are_never_indexed_and_warn_every_time(runs, capsys):
    (runs / "trainings" / "bad").mkdir()
    (runs / "trainings" / "bad" / "data.yaml").write_text("status: [\n")
    (runs / "trainings" / "stray").mkdir()
    (runs / "trainings" / "stray" / "notes.txt").write_text("no data.yaml")
    (runs / "trainings" / "empty").mkdir()  # made by hand: no run reserved it
    for _ in range(2):
        found = {i.name: i.status for i in scan_instances(runs / "trainings", summary=True)}
        assert found["bad"] == found["stray"] == found["empty"] == "broken"
        err = capsys.readouterr().err
        assert "@bad" in err and "@stray" in err and "@empty" in err
    assert indexed(runs) == {"alpha-tron", "beta-tron", "gamma-tron"}


def test_metadata_that_is_not_plain_data_is_not_indexed(runs):
    folder = runs / "trainings" / "dated"
    folder.mkdir()
    (folder / "data.yaml").write_text("status: finished\nresults:\n  training_start: 2026-01-01\n"
                                      "  1: one\n")  # a date and an int key
    assert scan(runs) == from_files(runs)
    assert "dated" not in indexed(runs)
    assert scan(runs) == from_files(runs)


def test_an_unwritable_index_leaves_the_listing_alone(runs, monkeypatch):
    def disk_full(path, data):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(list_index, "atomic_write_bytes", disk_full)
    assert scan(runs) == from_files(runs)
    assert not (runs / "trainings" / INDEX_FILE).exists()


def test_no_index_without_runs(tmp_path, later):
    (tmp_path / "trainings").mkdir()
    assert scan(tmp_path) == []
    assert os.listdir(tmp_path / "trainings") == []


def test_the_index_is_no_run_and_leaves_no_temp_files(runs):
    scan(runs)
    assert sorted(os.listdir(runs / "trainings")) == \
        [INDEX_FILE, "alpha-tron", "beta-tron", "gamma-tron"]
    assert [i.name for i in scan_instances(runs / "trainings")] == \
        ["alpha-tron", "beta-tron", "gamma-tron"]


def test_list_output_is_the_same_with_a_fresh_stale_or_missing_index(runs, env, capsys):
    def outputs():
        return [run_list(env, capsys, output=fmt) for fmt in ("table", "csv", "json")]
    without = outputs()  # writes the index
    assert (runs / "trainings" / INDEX_FILE).exists()
    assert outputs() == without  # from the index
    read_instance(runs / "trainings" / "alpha-tron").update_results(test_acc=0.1)
    changed = outputs()  # one run stale
    (runs / "trainings" / INDEX_FILE).unlink()
    assert outputs() == changed != without


def test_instances_from_the_index_have_paths(runs):
    scan(runs)
    instance = scan_instances(runs / "trainings", summary=True)[0]
    assert instance.path == runs / "trainings" / "alpha-tron"
    assert instance.metadata_path.is_file() and instance.partial
