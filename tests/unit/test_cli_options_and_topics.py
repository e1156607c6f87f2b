"""The command line: booleans with values, bad global options, ``ml help -a``,
``ml help --cache`` and operation keys shown as YAML."""
import re

import pytest

from vergeml.cli import glossary
from vergeml.plugins import registry as plugins
from vergeml.commands.predict import PredictCommand
from vergeml.cli.help_text import TOPICS
from vergeml.models.imagenet.commands import TrainCommand


@pytest.fixture
def recorded(monkeypatch):
    """Replace the ``run`` of train and predict by a recorder of ``(name, args, env)``."""
    calls = []
    for cls in (TrainCommand, PredictCommand):
        monkeypatch.setattr(cls, "run",
                            lambda self, args, env: calls.append((self.name, args, env)) or 0)
    return calls


@pytest.fixture
def in_project(project, monkeypatch):
    monkeypatch.chdir(project)
    return project


# -- 3. booleans on the command line ----------------------------------------------------

@pytest.mark.parametrize("typed, expected", [
    ([], False), (["--compact"], True), (["--compact=yes"], True), (["--compact=no"], False),
    (["--compact=true"], True), (["--compact=False"], False), (["--compact=on"], True),
    (["--compact=off"], False), (["--compact=1"], True), (["--compact=0"], False),
])
def test_flag_values_on_the_command_line(call_ml, in_project, recorded, typed, expected):
    result = call_ml("@bob", "predict", *typed, "a.jpg")
    assert result.returncode == 0, result.output
    name, args, _ = recorded[0]
    assert args["compact"] is expected and args["files"] == ["a.jpg"]


def test_a_bare_flag_does_not_take_the_next_file(call_ml, in_project, recorded):
    assert call_ml("@bob", "predict", "--compact", "a.jpg", "b.jpg").returncode == 0
    assert recorded[0][1]["files"] == ["a.jpg", "b.jpg"] and recorded[0][1]["compact"] is True


def test_a_bad_flag_value_is_one_line(call_ml, in_project, recorded):
    result = call_ml("@bob", "predict", "--compact=maybe", "a.jpg")
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == 'Error: --compact: expected true or false, got "maybe"'
    assert not recorded


@pytest.mark.parametrize("typed, expected", [
    (["--skip-bad-files=yes"], True), (["--skip-bad-files=no"], False), (["--skip-bad-files"], True),
])
def test_global_flag_values(call_ml, in_project, recorded, typed, expected):
    assert call_ml(*typed, "train").returncode == 0
    assert recorded[0][2].settings["skip-bad-files"] is expected


# -- 6. ml help -a -------------------------------------------------------------------------

@pytest.mark.parametrize("flag", ["-a", "--all", "--all=yes"])
def test_help_all_lists_every_topic(call_ml, tmp_path, monkeypatch, flag):
    monkeypatch.chdir(tmp_path)
    result = call_ml("help", flag)
    assert result.returncode == 0, result.output
    text = result.stdout
    for heading in ("Commands:", "Model commands:", "Help topics:", "Operations:",
                    "Data sources and outputs:", "Downloads:", "Plots:", "Services:", "Glossary:"):
        assert heading in text
    words = set(re.findall(r"[\w:-]+", text))
    expected = (plugins.names(plugins.COMMANDS) + ["train", "predict"]
                + plugins.names(plugins.OPERATIONS) + plugins.names(plugins.SOURCES)
                + [f"download:{n}" for n in plugins.names(plugins.DOWNLOADS)]
                + [f"plot:{n}" for n in plugins.names(plugins.PLOTS)]
                + [f"run:{n}" for n in plugins.names(plugins.SERVICES)])
    assert not [name for name in expected if name not in words]
    flat = " ".join(text.split())
    assert not [t for t in ["options", "glossary", "models"] + list(TOPICS) + list(glossary.GLOSSARY) if t not in flat]


def test_help_all_false_is_the_overview(call_ml, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert call_ml("help", "--all=no").stdout == call_ml("help").stdout


# -- 7. ml help --cache; hints after bad global options -------------------------------------

@pytest.mark.parametrize("topic, start", [
    ("--cache", "--cache=<str>"), ("--model", "-m, --model=<str>"), ("-m", "-m, --model=<str>"),
    ("--samples-dir", "--samples-dir=<DIR>"), ("--skip-bad-files", "--skip-bad-files"),
    ("--device", "--device=<DEVICE>"),
])
def test_help_on_a_global_option_typed_as_an_option(call_ml, tmp_path, monkeypatch, topic, start):
    monkeypatch.chdir(tmp_path)
    result = call_ml("help", topic)
    assert result.returncode == 0, result.output
    assert result.stdout.strip().startswith(start)
    assert result.stderr == ""


def test_a_global_option_with_a_value_after_help_is_still_a_setting(call_ml, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = call_ml("help", "--cache=mem", "train")
    assert result.returncode == 0 and result.stdout.startswith("Train an image classifier.")


@pytest.mark.parametrize("argv, first", [
    (["help", "--foo"], "Error: unknown option --foo."),
    (["--cache"], "Error: --cache: expected a value"),
    (["list", "--cache"], "Error: --cache: expected a value"),
    (["--foo", "list"], "Error: unknown option --foo."),
    (["--cache=dsk", "list"], "Error: --cache: expected one of"),
])
def test_bad_global_options_point_to_help_options(call_ml, tmp_path, monkeypatch, argv, first):
    monkeypatch.chdir(tmp_path)
    result = call_ml(*argv)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(first) and lines[-1] == "See 'ml help options'."
    assert "ml help help" not in result.stderr


# -- 8. ml --invalid opt ----------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["--invalid", "opt"], ["--invalid"], ["--invalid=3", "trian"]])
def test_an_unknown_option_before_the_command_is_named(call_ml, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    result = call_ml(*argv)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["Error: unknown option --invalid.", "See 'ml help options'."]


# -- 9. operation keys as YAML -------------------------------------------------------------------

def test_help_on_an_operation_shows_yaml_keys(call_ml, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = call_ml("help", "resize").stdout
    assert text.startswith("operation: resize")
    assert re.search(r"^  width: <int> +Width of the result in pixels\. Required\.", text, re.M)
    assert "mode: <str>" in text and "[default: fill]" in text
    assert "--width" not in text and "--mode" not in text


def test_help_on_a_source_shows_yaml_keys(call_ml, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = call_ml("help", "labeled-image").stdout
    assert text.startswith("data source: labeled-image")
    assert "--" not in text.split("\n\n", 2)[-1]
