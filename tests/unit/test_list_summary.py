"""``data.summary.json``: what ``ml list`` reads instead of the YAML, when it matches.

The summary is written by every ``Instance.save()`` with the digest of the
``data.yaml`` it goes with; ``ml list`` uses it only while that digest
matches, so a hand-edited, replaced, truncated or emptied ``data.yaml`` is
read as before, and the output is the same byte for byte either way.
"""
import json

import pytest

from tests.unit.list_helpers import env, run_list
from vergeml.instances import hostname, read_instance, scan_instances
from vergeml.instances.instance import SUMMARY_FILE, SUMMARY_SKIP, Instance


def save_run(root, name, status="finished", meta=None, **results):
    metadata = {"name": name, "model": "imagenet", "backbone": "mobilenet", "status": status,
                "hyperparameters": {"batch_size": 64, "learning_rate": 0.001, "note": "ü 'x' #"},
                "results": {"training_start": "2026-01-01T10:00:00+00:00", "epochs_done": 3,
                            "test_acc": 0.75, "test_loss": float("nan"), **results},
                "history": [{"epoch": 1, "acc": 0.5}], "data": {"num_train": 3},
                "versions": {"vergeml": "0.2.0"}, **(meta or {})}
    instance = Instance(root / "trainings" / name, metadata)
    instance.path.mkdir(parents=True)
    instance.save()
    return instance


def outputs(env, capsys, **options):
    return [run_list(env, capsys, output=fmt, **options) for fmt in ("table", "csv", "json")]


def drop_summaries(root):
    for path in (root / "trainings").glob(f"*/{SUMMARY_FILE}"):
        path.unlink()


def test_save_writes_a_summary_without_the_skipped_blocks(tmp_path):
    instance = save_run(tmp_path, "nervous-tron")
    summary = json.loads((instance.path / SUMMARY_FILE).read_text(encoding="utf-8"))
    assert set(summary) == {"digest", "metadata"}
    assert not set(SUMMARY_SKIP) & set(summary["metadata"])
    assert summary["metadata"]["results"]["test_acc"] == 0.75


def test_a_matching_summary_gives_the_summary_read_of_the_yaml(tmp_path):
    instance = save_run(tmp_path, "nervous-tron", status="running", meta={"pid": 1})
    from_summary = read_instance(instance.path, skip=SUMMARY_SKIP)
    (instance.path / SUMMARY_FILE).unlink()
    from_yaml = read_instance(instance.path, skip=SUMMARY_SKIP)
    assert from_summary.partial and from_summary.problem is None
    assert json.dumps(from_summary.metadata) == json.dumps(from_yaml.metadata)


def test_list_output_is_identical_with_and_without_summaries(tmp_path, env, capsys):
    for index, status in enumerate(("finished", "cancelled", "failed", "running")):
        meta = {"pid": 2 ** 22 + 7, "host": hostname()} if status == "running" else None
        save_run(tmp_path, f"run-{index}", status=status, meta=meta, test_acc=index / 10)
    (tmp_path / "trainings" / "empty").mkdir()
    (tmp_path / "trainings" / "empty" / "data.yaml").write_text("")
    with_summaries = outputs(env, capsys)
    drop_summaries(tmp_path)
    assert outputs(env, capsys) == with_summaries
    assert "broken" in with_summaries[0].out and "crashed" in with_summaries[0].out


@pytest.mark.parametrize("new_text, expect", [
    ("", "broken"),
    ("status: finished\nresults: {test_acc: 0.5}\n", 0.5),
    ("name: x\nstatus: [\n", "broken"),
])
def test_a_summary_of_another_data_yaml_is_ignored(tmp_path, new_text, expect):
    instance = save_run(tmp_path, "nervous-tron")
    instance.metadata_path.write_text(new_text)  # hand-edited, replaced or truncated
    read = scan_instances(tmp_path / "trainings", warn=False, summary=True)[0]
    if expect == "broken":
        assert read.status == "broken" and read.problem
    else:
        assert read.results == {"test_acc": expect}


@pytest.mark.parametrize("summary", ["", "{", "[]", '{"digest": 1}', '{"metadata": {}}',
                                     '{"digest": null, "metadata": null}'])
def test_an_unreadable_summary_falls_back_to_the_yaml(tmp_path, summary):
    instance = save_run(tmp_path, "nervous-tron")
    (instance.path / SUMMARY_FILE).write_text(summary)
    read = read_instance(instance.path, skip=SUMMARY_SKIP)
    assert read.problem is None and read.results["test_acc"] == 0.75


def test_a_matching_summary_of_bad_shape_is_not_trusted(tmp_path):
    instance = save_run(tmp_path, "nervous-tron")
    path = instance.path / SUMMARY_FILE
    summary = json.loads(path.read_text(encoding="utf-8"))
    summary["metadata"]["status"] = "bogus"
    path.write_text(json.dumps(summary))
    read = read_instance(instance.path, skip=SUMMARY_SKIP)
    assert read.problem is None and read.metadata["status"] == "finished"


def test_a_full_read_ignores_the_summary(tmp_path):
    instance = save_run(tmp_path, "nervous-tron")
    read = read_instance(instance.path)
    assert not read.partial and read.metadata["history"] == [{"epoch": 1, "acc": 0.5}]
