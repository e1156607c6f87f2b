"""A run's stored data settings and sample record: what a resumed run rebuilds from."""
from vergeml.settings.project_settings import ProjectFile
from vergeml.data.run_settings import run_environment, stored_settings, typed_conflicts
from vergeml.settings.environment import Environment
from vergeml.instances import create_instance
from vergeml.instances.sample_record import compare, read_record, record_path, write_record

SETTINGS = {"samples-dir": "samples", "val-split": "10%", "test-split": "10%", "random-seed": 42,
            "cache": None, "cache-dir": ".cache", "trainings-dir": "trainings"}


def make_env(tmp_path, typed=None, data=None, **settings):
    project = ProjectFile(data={"data": data} if data is not None else {})
    env = Environment(tmp_path, project, {**SETTINGS, **settings})
    env.command_line = dict(typed or {})
    return env


def test_the_stored_settings_come_back_whatever_the_project_says_now(tmp_path):
    started = make_env(tmp_path, data={"preprocess": [{"op": "grayscale"}]},
                       **{"random-seed": 2, "val-split": "20", "cache": "mem"})
    data = {"random_seed": 2, **stored_settings(started)}
    now = make_env(tmp_path, data={"preprocess": []}, **{"random-seed": 7, "cache-dir": "elsewhere"})
    run_env = run_environment(now, data)
    assert run_env.random_seed == 2
    assert (run_env.settings["val-split"], run_env.settings["cache"]) == ("20", "mem")
    assert run_env.data_config == {"preprocess": [{"op": "grayscale"}]}
    assert run_env.settings["cache-dir"] == "elsewhere"  # where the cache is does not change the run


def test_a_run_stored_before_its_settings_keeps_its_seed_only(tmp_path):
    now = make_env(tmp_path, data={"preprocess": []}, **{"random-seed": 7, "val-split": "5%"})
    run_env = run_environment(now, {"random_seed": 3})
    assert run_env.random_seed == 3 and run_env.settings["val-split"] == "5%"
    assert run_env.data_config == {"preprocess": []}


def test_only_typed_data_settings_that_differ_are_conflicts(tmp_path):
    data = {"random_seed": 2, **stored_settings(make_env(tmp_path, **{"random-seed": 2}))}
    same = make_env(tmp_path, typed={"random-seed": "2", "val-split": "10 %", "samples-dir": "./samples",
                                     "cache-dir": "x", "epochs": 5})
    assert typed_conflicts(same, run_environment(same, data)) == []
    other = make_env(tmp_path, typed={"random-seed": "3", "test-split": "nonsense"})
    assert typed_conflicts(other, run_environment(other, data)) == [
        "--random-seed 3 (the run has 2)", "--test-split nonsense (the run has 10%)"]


def test_the_sample_record_round_trips_and_names_what_changed(tmp_path):
    instance = create_instance(tmp_path / "trainings", "imagenet", "mobilenet", {}, name="run")
    write_record(instance, [("b/2.png", "b", "val", "d2"), ("a/1.png", "a", "train", "d1"),
                            ("a/1.png", "a", "train", "d1"), ("a,x.png", "a", "test", "d3")])
    record = read_record(instance)
    assert record == {"a/1.png": ("a", "train", "d1"), "a,x.png": ("a", "test", "d3"),
                      "b/2.png": ("b", "val", "d2")}
    assert compare(record, dict(record)) == ""
    now = {"a/1.png": ("a", "train", "other"), "b/2.png": ("a", "val", "d2"),
           **{f"c/{i}.png": ("c", "train", str(i)) for i in range(5)}}
    assert compare(record, now) == ("5 file(s) added (c/0.png, c/1.png, c/2.png, ...), "
                                    "1 removed (a,x.png), 1 changed (a/1.png), "
                                    "1 moved to another class (b/2.png)")
    record_path(instance).write_text("not,a,record\n")
    assert read_record(instance) is None
