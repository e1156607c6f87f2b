"""Option declarations: conversion, constraints, messages and precedence (vergeml.settings.option)."""
import pytest

from vergeml.settings.project_settings import load_project_file
from vergeml.errors import ConfigError
from vergeml.models.imagenet.imagenet_options import TRAIN_OPTIONS
from vergeml.settings.option import Option, OptionValueError
from vergeml.settings.spelling import canonical

from vergeml.settings.option_set import OptionSet
EPOCHS = Option("epochs", default=5, type="int", rule=">0", help="How many epochs.")
RATE = Option("learning-rate", default=0.0001, type="float", rule=">0", help="Step size.")
DECAY = Option("decay", default=0.0, type="float", rule=">=0")
DROPOUT = Option("dropout", default=0.0, type="float", rule="0..0.99")
OPTIMIZER = Option("optimizer", default="sgd", choices=("sgd", "adam"))
SIZE = Option("size", default="auto", type="int", rule=">=32", also=("auto",))
FLAG = Option("compact", type="bool", flag=True, default=False)
COLUMNS = Option("columns", type="list")


def error_of(option, value):
    with pytest.raises(OptionValueError) as info:
        option.parse(value)
    return str(info.value)


# -- names --------------------------------------------------------------------------

@pytest.mark.parametrize("spelling", ["learning-rate", "learning_rate", "--learning-rate",
                                      "--learning_rate", "Learning_Rate", " learning-rate "])
def test_canonical_spelling(spelling):
    assert canonical(spelling) == "learning-rate"


def test_dest_and_spellings():
    assert RATE.dest == "learning_rate"
    assert RATE.spellings() == ["--learning-rate", "--learning_rate"]
    assert EPOCHS.spellings() == ["--epochs"]


# -- conversion of every type -------------------------------------------------------

@pytest.mark.parametrize("raw, expected", [("3", 3), (" 12 ", 12), (7, 7), (4.0, 4), ("+2", 2)])
def test_int_converts(raw, expected):
    value = EPOCHS.parse(raw)
    assert value == expected and type(value) is int


@pytest.mark.parametrize("raw", ["3.5", 3.5, "three", True, "", [3], {"a": 1}])
def test_int_rejects_non_integers(raw):
    message = error_of(EPOCHS, raw)
    assert message.startswith("expected an integer > 0, got ")


@pytest.mark.parametrize("raw, expected", [("0.01", 0.01), ("1e-3", 0.001), (2, 2.0), (0.5, 0.5)])
def test_float_converts(raw, expected):
    value = RATE.parse(raw)
    assert value == pytest.approx(expected) and type(value) is float


@pytest.mark.parametrize("raw", ["fast", True, [0.1], ""])
def test_float_rejects_non_numbers(raw):
    assert error_of(RATE, raw).startswith("expected a number > 0, got ")


def test_string_converts_scalars_and_rejects_collections():
    option = Option("name")
    assert option.parse("bob") == "bob"
    assert option.parse(5) == "5"
    assert error_of(option, ["a"]) == "expected a string, got ['a']"
    assert error_of(option, {"a": 1}) == "expected a string, got {'a': 1}"


@pytest.mark.parametrize("raw", ["y", "yes", "on", "true", "1", "YES", "True", "On", " TRUE ", True, 1])
def test_bool_true_spellings(raw):
    assert FLAG.parse(raw) is True


@pytest.mark.parametrize("raw", ["n", "no", "off", "false", "0", "NO", "False", "OFF", False, 0])
def test_bool_false_spellings(raw):
    assert FLAG.parse(raw) is False


@pytest.mark.parametrize("raw, shown", [("maybe", '"maybe"'), ("2", "2"), ("", '""'),
                                        ("yess", '"yess"')])
def test_bool_rejects_other_words(raw, shown):
    assert error_of(FLAG, raw) == f"expected true or false, got {shown}"


def test_list_from_comma_string_and_yaml_list():
    assert COLUMNS.parse("a,b") == ["a", "b"]
    assert COLUMNS.parse(" a , b,,c ,") == ["a", "b", "c"]
    assert COLUMNS.parse("single") == ["single"]
    assert COLUMNS.parse(["x", 1, 0.5]) == ["x", "1", "0.5"]
    assert COLUMNS.parse(("p", "q")) == ["p", "q"]
    assert error_of(COLUMNS, 5) == "expected a comma-separated list, got 5"


def test_list_from_yaml_document(tmp_path):
    path = tmp_path / "vergeml.yaml"
    path.write_text("list:\n  columns: [name, test_acc]\nother:\n  columns: name, val_acc\n")
    data = load_project_file(path).data
    assert COLUMNS.parse(data["list"]["columns"]) == ["name", "test_acc"]
    assert COLUMNS.parse(data["other"]["columns"]) == ["name", "val_acc"]


def test_dict_type():
    option = Option("params", type="dict")
    assert option.parse({"a": 1}) == {"a": 1}
    assert error_of(option, "a=1") == 'expected a mapping, got "a=1"'


def test_none_is_no_value_unless_required():
    assert EPOCHS.parse(None) is None
    required = Option("class", required=True, help="The class.")
    with pytest.raises(OptionValueError, match="a value is required"):
        required.parse(None)


# -- rules, ranges, choices, literals -----------------------------------------------

@pytest.mark.parametrize("option, ok, bad", [
    (EPOCHS, [1, "100"], [0, -1, "-5"]),
    (RATE, [1e-9, 5], [0, 0.0, -0.1]),
    (DECAY, [0, 0.0, 3], [-0.0001, -1]),
    (DROPOUT, [0, 0.5, 0.99, "0.99"], [1, 0.995, -0.1, "1.0"]),
    (Option("p", type="float", rule="<1"), [0.999, -3], [1, 2]),
    (Option("q", type="float", rule="<=1"), [1, 0], [1.0001]),
    (Option("r", type="int", rule="-5..5"), [-5, 0, 5], [-6, 6]),
])
def test_numeric_rules(option, ok, bad):
    for value in ok:
        assert option.parse(value) == pytest.approx(float(value))
    for value in bad:
        with pytest.raises(OptionValueError, match=r"^expected "):
            option.parse(value)


def test_rule_violation_message_shows_value_and_rule():
    assert error_of(EPOCHS, "0") == "expected an integer > 0, got 0"
    assert error_of(DECAY, -1) == "expected a number >= 0, got -1"
    assert error_of(DROPOUT, 1.5) == "expected a number between 0 and 0.99, got 1.5"
    assert error_of(Option("p", type="float", rule="<1"), 2) == "expected a number < 1, got 2"
    assert error_of(Option("q", type="int", rule="<=1"), 2) == "expected an integer <= 1, got 2"


def test_choices_accept_declared_values():
    assert OPTIMIZER.parse("sgd") == "sgd"
    assert OPTIMIZER.parse("adam") == "adam"


def test_choice_typo_gets_did_you_mean():
    assert error_of(OPTIMIZER, "adm") == \
        "expected one of sgd, adam, got \"adm\". Did you mean 'adam'?"


def test_choice_far_off_has_no_suggestion():
    assert error_of(OPTIMIZER, "rmsprop") == 'expected one of sgd, adam, got "rmsprop"'


def test_auto_literal_besides_type():
    assert SIZE.parse("auto") == "auto"
    assert SIZE.parse(" AUTO ") == "auto"
    assert SIZE.parse("224") == 224
    assert SIZE.parse(96) == 96
    assert error_of(SIZE, "16") == "expected an integer >= 32 or auto, got 16"
    assert error_of(SIZE, "automatic") == 'expected an integer >= 32 or auto, got "automatic"'


# -- description texts --------------------------------------------------------------

@pytest.mark.parametrize("option, text", [
    (EPOCHS, "an integer > 0"),
    (RATE, "a number > 0"),
    (DECAY, "a number >= 0"),
    (DROPOUT, "a number between 0 and 0.99"),
    (OPTIMIZER, "one of sgd, adam"),
    (SIZE, "an integer >= 32 or auto"),
    (FLAG, "true or false"),
    (COLUMNS, "a comma-separated list"),
    (Option("name"), "a string"),
    (Option("n", type="int"), "an integer"),
    (Option("d", type="dict"), "a mapping"),
])
def test_describe(option, text):
    assert option.describe() == text


def test_type_text():
    assert EPOCHS.type_text() == "int >0"
    assert OPTIMIZER.type_text() == "sgd|adam"
    assert SIZE.type_text() == "int >=32|auto"
    assert DROPOUT.type_text() == "float 0..0.99"


# -- OptionSet ----------------------------------------------------------------------

def test_option_set_lookup_in_any_spelling_and_alias():
    options = OptionSet([RATE, EPOCHS, Option("sort", aliases=("order-by",))])
    assert options.get("learning_rate") is RATE
    assert options.get("--learning-rate") is RATE
    assert options.get("order_by").name == "sort"
    assert options.get("learning-rat") is None
    assert "epochs" in options and "epoch" not in options
    assert options.names() == ["learning-rate", "epochs", "sort"]
    assert len(options) == 3
    assert options.defaults() == {"learning-rate": 0.0001, "epochs": 5, "sort": None}


def test_option_declared_twice_is_an_error():
    with pytest.raises(ValueError, match="declared twice"):
        OptionSet([RATE, Option("learning_rate")])


def test_resolve_precedence_cli_over_yaml_over_default():
    options = OptionSet([EPOCHS, RATE, OPTIMIZER])
    assert options.resolve({}, None) == {"epochs": 5, "learning-rate": 0.0001, "optimizer": "sgd"}
    yaml_section = {"epochs": 7, "learning-rate": 0.01}
    assert options.resolve({}, yaml_section) == {"epochs": 7, "learning-rate": 0.01, "optimizer": "sgd"}
    assert options.resolve({"epochs": "3"}, yaml_section) == \
        {"epochs": 3, "learning-rate": 0.01, "optimizer": "sgd"}
    assert options.resolve({"learning_rate": "0.5", "optimizer": "adam"}, yaml_section) == \
        {"epochs": 7, "learning-rate": 0.5, "optimizer": "adam"}


def test_resolve_accepts_underscore_yaml_keys():
    assert OptionSet([RATE]).resolve({}, {"learning_rate": 0.2}) == {"learning-rate": 0.2}


def test_resolve_unknown_yaml_key_suggests():
    with pytest.raises(ConfigError) as info:
        OptionSet(TRAIN_OPTIONS).resolve({}, {"epoch": 3}, where="train")
    assert info.value.message == "unknown option train.epoch. Did you mean 'epochs'?"
    assert info.value.exit_code == 2


def test_resolve_unknown_yaml_key_without_suggestion():
    with pytest.raises(ConfigError) as info:
        OptionSet([EPOCHS]).resolve({}, {"colour": "red"}, where="train")
    assert info.value.message == "unknown option train.colour."


def test_resolve_rejects_cli_only_option_in_yaml():
    options = OptionSet([EPOCHS, Option("force", flag=True, type="bool", yaml=False)])
    with pytest.raises(ConfigError, match="unknown option new.force"):
        options.resolve({}, {"force": True}, where="new")
    assert options.resolve({"force": True}, {})["force"] is True


def test_resolve_bad_cli_value_names_the_option():
    with pytest.raises(ConfigError) as info:
        OptionSet([EPOCHS]).resolve({"epochs": "many"}, {})
    assert info.value.message == '--epochs: expected an integer > 0, got "many"'


def test_resolve_missing_required():
    options = OptionSet([Option("class", required=True, help="The class to plot.")])
    with pytest.raises(ConfigError) as info:
        options.resolve({}, {})
    assert info.value.message == "missing argument --class (The class to plot.)"
    assert options.resolve({}, {"class": "cat"}) == {"class": "cat"}


# learning-rate accepts auto since issue 14 (its new default; the original's was 0.0001),
# so the real declaration's messages below say "or auto".
def test_located_error_message_exact(tmp_path):
    path = tmp_path / "vergeml.yaml"
    path.write_text("model: imagenet\n\ntrain:\n  learning-rate: fast\n")
    project = load_project_file(path)
    with pytest.raises(ConfigError) as info:
        OptionSet(TRAIN_OPTIONS).resolve({}, project.section("train"), where="train",
                                         lines=project.lines)
    assert info.value.message == \
        'vergeml.yaml:4:18: train.learning-rate: expected a number > 0 or auto, got "fast"'
    assert info.value.message.excerpt == ("  learning-rate: fast", " " * 17 + "^")


def test_located_error_for_underscore_key_and_unknown_key(tmp_path):
    path = tmp_path / "vergeml.yaml"
    path.write_text("train:\n  epochs: 3\n  learning_rate: -1\n")
    project = load_project_file(path)
    with pytest.raises(ConfigError) as info:
        OptionSet(TRAIN_OPTIONS).resolve({}, project.section("train"), where="train",
                                         lines=project.lines)
    assert info.value.message == "vergeml.yaml:3:18: train.learning-rate: expected a number > 0 or auto, got -1"
    assert info.value.message.excerpt == ("  learning_rate: -1", " " * 17 + "^")
    path.write_text("train:\n  epochs: 3\n\n  optimiser: adam\n")
    project = load_project_file(path)
    with pytest.raises(ConfigError) as info:
        OptionSet(TRAIN_OPTIONS).resolve({}, project.section("train"), where="train",
                                         lines=project.lines)
    assert info.value.message == \
        "vergeml.yaml:4:3: unknown option train.optimiser. Did you mean 'optimizer'?"
    assert info.value.message.excerpt == ("  optimiser: adam", "  ^")


def test_train_option_declarations_are_consistent():
    """Every default of the imagenet train options passes its own validation."""
    options = OptionSet(TRAIN_OPTIONS)
    assert len(options) == len(TRAIN_OPTIONS)
    for option in TRAIN_OPTIONS:
        assert option.help, option.name
        assert option.name == canonical(option.name)
        if option.default is not None:
            assert option.parse(option.default) == option.default, option.name
