"""Hyperparameter grids: parsing lists of values, expansion, sampling, the runner (no TensorFlow)."""
import pytest
import yaml

from vergeml.errors import ConfigError, UsageError
from vergeml.grid.grid_plan import GRID_OPTIONS, axes, combinations, describe, plan, sample
from vergeml.grid.grid_runner import run_grid
from vergeml.instances import create_instance, scan_instances
from vergeml.instances.grid_listing import best_first, best_line, grid_columns, grid_rows
from vergeml.instances.listing import Row
from vergeml.models.imagenet.imagenet_options import TRAIN_OPTIONS
from vergeml.settings.option import Option, OptionValueError

from vergeml.settings.option_set import OptionSet
OPTIONS = TRAIN_OPTIONS + GRID_OPTIONS


def resolve(command_line=None, section=None):
    return OptionSet(OPTIONS).resolve(command_line or {}, section, where="train", lists=True)


# -- parsing -------------------------------------------------------------------------

def test_comma_list_on_numeric_and_choice_options():
    args = resolve({"learning-rate": "0.001, 0.01", "epochs": "1,2,3", "optimizer": "sgd,adam"})
    assert args["learning-rate"] == [0.001, 0.01]
    assert args["epochs"] == [1, 2, 3]
    assert args["optimizer"] == ["sgd", "adam"]


def test_one_value_stays_a_plain_value():
    args = resolve({"learning-rate": "0.01", "dropout": "0.5,"[:-1]})
    assert args["learning-rate"] == 0.01 and args["dropout"] == 0.5


def test_yaml_lists_make_grids_too():
    args = resolve(section={"learning-rate": [0.001, 0.01], "architecture": ["mobilenet"]})
    assert args["learning-rate"] == [0.001, 0.01]
    assert args["architecture"] == "mobilenet"  # a one-element list is one value


def test_each_value_is_validated():
    with pytest.raises(ConfigError, match=r"--dropout: expected a number between 0 and 0.99, got 2"):
        resolve({"dropout": "0.2,2"})
    with pytest.raises(ConfigError, match=r"--optimizer: expected one of sgd, adam"):
        resolve({"optimizer": "sgd,adamm"})


@pytest.mark.parametrize("name", ["name", "variant", "weights", "resume"])
def test_text_option_cannot_take_a_list(name):
    with pytest.raises(ConfigError) as err:
        resolve({name: "a,b"})
    assert err.value.message == (f"--{name}: cannot take a list of values "
                                 "(a grid varies numeric and choice options only)")
    assert err.value.exit_code == 2


def test_yaml_list_on_a_text_option_is_a_located_error():
    with pytest.raises(ConfigError, match=r"train.name: cannot take a list of values"):
        resolve(section={"name": ["a", "b"]})


def test_list_options_keep_their_comma_lists():
    assert resolve({"augment": "flip,rotate"})["augment"] == ["flip", "rotate"]


def test_without_lists_a_comma_list_is_still_an_error():
    with pytest.raises(ConfigError, match="expected a number > 0"):
        OptionSet(OPTIONS).resolve({"learning-rate": "0.1,0.2"}, None)


def test_parse_values_of_an_option():
    option = Option("size", type="int", rule=">=32", also=("auto",))
    assert option.parse_values("auto,64") == ["auto", 64]
    with pytest.raises(OptionValueError):
        option.parse_values("64,,96")
    assert Option("x", type="bool").in_grid is False


# -- expansion and sampling ------------------------------------------------------------

def test_axes_in_declaration_order_and_product_by_name():
    args = resolve({"learning-rate": "0.001,0.01", "dropout": "0.2,0.5"})
    grid_axes = axes(args, OPTIONS)
    assert list(grid_axes) == ["learning-rate", "dropout"]
    runs = combinations(grid_axes)
    assert runs == [{"dropout": 0.2, "learning-rate": 0.001}, {"dropout": 0.2, "learning-rate": 0.01},
                    {"dropout": 0.5, "learning-rate": 0.001}, {"dropout": 0.5, "learning-rate": 0.01}]
    assert describe(runs[1], list(grid_axes)) == "learning-rate=0.01 dropout=0.2"


def test_no_axes_is_one_run():
    assert combinations({}) == [{}]


def test_sample_is_deterministic_without_replacement():
    combos = combinations({"epochs": list(range(1, 11)), "layers": [1, 2, 3]})
    first, again = sample(combos, 5, seed=7), sample(combos, 5, seed=7)
    assert first == again and len(first) == 5
    assert len({tuple(sorted(c.items())) for c in first}) == 5
    assert [combos.index(c) for c in first] == sorted(combos.index(c) for c in first)
    assert sample(combos, 5, seed=8) != first
    assert sample(combos, 100, seed=7) == combos


def test_plan_removes_grid_options_and_checks_single_run_options():
    args = resolve({"learning-rate": "0.001,0.01", "grid-random": "1"})
    base, runs, _ = plan(args, OPTIONS, seed=42)
    assert "grid-random" not in base and "learning-rate" not in base and len(runs) == 1
    for name in ("name", "resume"):
        with pytest.raises(UsageError, match=f"--{name} cannot be used with a grid"):
            plan(resolve({"learning-rate": "0.001,0.01", name: "bot"}), OPTIONS, seed=42)
    base, runs, _ = plan(resolve({"learning-rate": "0.01", "name": "bot"}), OPTIONS, seed=42)
    assert runs == [{}] and base["name"] == "bot"


# -- the runner, with a fake training function ------------------------------------------

class FakeEnv:
    random_seed = 42

    def __init__(self, folder):
        self.trainings_dir = folder


def fake_train(statuses, accs):
    """A train() that creates an instance like the real one and returns the next status."""
    calls = []

    def train(args, env, metadata=None):
        calls.append(args)
        hyper = {k: v for k, v in args.items() if k != "name"}
        instance = create_instance(env.trainings_dir, "imagenet", "mobilenet", hyper)
        instance.metadata.update(metadata or {})  # as training._create_instance records it
        status = statuses[len(calls) - 1]
        instance.update_results(save=False, test_acc=accs[len(calls) - 1])
        instance.set_status("cancelled" if status == 130 else "finished")
        return status
    return train, calls


def test_grid_runs_every_combination_and_tags_them(tmp_path, capsys):
    train, calls = fake_train([0, 0, 0, 0], [0.5, 0.9, 0.7, 0.6])
    args = resolve({"learning-rate": "0.001,0.01", "dropout": "0.2,0.5"})
    assert run_grid(args, FakeEnv(tmp_path), train, OPTIONS) == 0
    assert [(c["learning-rate"], c["dropout"]) for c in calls] == \
        [(0.001, 0.2), (0.01, 0.2), (0.001, 0.5), (0.01, 0.5)]
    assert all("grid-random" not in c for c in calls)
    out = capsys.readouterr().out
    grid_id = out.split()[1].rstrip(":")
    assert f"Grid {grid_id} run 2/4: learning-rate=0.01 dropout=0.2" in out
    instances = scan_instances(tmp_path)
    assert sorted(i.metadata["grid_run"] for i in instances) == [1, 2, 3, 4]
    assert {i.metadata["grid"] for i in instances} == {grid_id}
    hyper = {i.metadata["grid_run"]: i.hyperparameters for i in instances}
    assert hyper[2]["learning_rate"] == 0.01 and hyper[2]["dropout"] == 0.2
    rows = best_first(grid_rows([Row(i) for i in instances], grid_id))
    assert rows[0].hyperparameters["learning_rate"] == 0.01 and rows[0].results["test_acc"] == 0.9
    assert grid_columns(rows)[:4] == ["instance", "grid", "learning_rate", "dropout"]
    assert best_line(rows) == f"Best: @{rows[0].name} (test_acc 0.900)"
    assert f"ml list --grid={grid_id}" in out


def test_cancelled_run_stops_the_grid_with_130(tmp_path):
    train, calls = fake_train([0, 130, 0, 0], [0.5, 0.9, 0.7, 0.6])
    args = resolve({"learning-rate": "0.001,0.01", "dropout": "0.2,0.5"})
    assert run_grid(args, FakeEnv(tmp_path), train, OPTIONS) == 130
    assert len(calls) == 2
    instances = scan_instances(tmp_path)
    assert len(instances) == 2 and all("grid" in i.metadata for i in instances)
    assert sorted(i.metadata["status"] for i in instances) == ["cancelled", "finished"]


def test_one_value_grid_is_a_plain_run(tmp_path, capsys):
    train, calls = fake_train([0], [0.5])
    assert run_grid(resolve({"learning-rate": "0.01"}), FakeEnv(tmp_path), train, OPTIONS) == 0
    assert len(calls) == 1 and "Grid" not in capsys.readouterr().out
    (instance,) = scan_instances(tmp_path)
    assert "grid" not in instance.metadata


def test_grid_random_trains_the_sampled_runs(tmp_path):
    train, calls = fake_train([0, 0], [0.5, 0.6])
    args = resolve({"learning-rate": "0.001,0.01,0.1", "layers": "1,2", "grid-random": "2"})
    assert run_grid(args, FakeEnv(tmp_path), train, OPTIONS) == 0
    expected = sample(combinations(axes(args, OPTIONS)), 2, seed=42)
    assert [{k: c[k] for k in ("layers", "learning-rate")} for c in calls] == expected


def test_unknown_grid_id_is_a_usage_error(tmp_path):
    instance = create_instance(tmp_path, "imagenet", "mobilenet", {})
    instance.metadata["grid"] = "g-abc123"
    instance.save()
    rows = [Row(i) for i in scan_instances(tmp_path)]
    with pytest.raises(UsageError, match="no runs of grid 'g-abc124'. Did you mean 'g-abc123'"):
        grid_rows(rows, "g-abc124")
    assert yaml.safe_load(instance.metadata_path.read_text())["grid"] == "g-abc123"


def test_a_huge_grid_is_refused_before_listing_it():
    from vergeml.grid.grid_plan import MAX_RUNS, plan
    options = [Option(n, type="int", rule=">0") for n in ("a", "b", "c", "d", "e")]
    args = {o.name: list(range(1, 13)) for o in options}  # 12**5 = 248,832 runs
    with pytest.raises(UsageError, match=f"a grid of 248,832 runs is more than {MAX_RUNS:,}"):
        plan(args, options, seed=1)
    args["grid-random"] = 3
    base, runs, _ = plan(args, options, seed=1)
    assert len(runs) == 3 and all(set(r) == {"a", "b", "c", "d", "e"} for r in runs)


def test_drawn_runs_are_the_same_as_sampling_the_full_list():
    from vergeml.grid.grid_plan import _combination
    grid_axes = {"epochs": list(range(1, 11)), "layers": [1, 2, 3], "dropout": [0.1, 0.2]}
    combos = combinations(grid_axes)
    assert [_combination(grid_axes, i) for i in range(len(combos))] == combos
