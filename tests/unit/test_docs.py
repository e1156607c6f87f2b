"""The docs and the example project file agree with the option declarations."""
from pathlib import Path

import pytest

from vergeml import plugins
from vergeml.config import load_project_file, resolve_globals
from vergeml.docs import pages

REPO = Path(__file__).resolve().parents[2]


def test_generated_command_pages_are_up_to_date():
    stale = [rel for rel, text in pages().items()
             if not (REPO / "docs" / rel).is_file()
             or (REPO / "docs" / rel).read_text(encoding="utf-8") != text]
    assert not stale, f"run 'make docs': out of date: {stale}"


def test_every_train_option_is_in_the_train_page():
    from vergeml.models.imagenet.train import TRAIN_OPTIONS
    page = pages()["commands/train.md"]
    for option in TRAIN_OPTIONS:
        assert f"`--{option.name}`" in page


@pytest.fixture(scope="module")
def example():
    return load_project_file(REPO / "vergeml.yaml.example")


def test_example_project_file_global_options_validate(example):
    settings = resolve_globals({}, example)
    assert settings["val-split"] == "10%" and settings["random-seed"] == 42


@pytest.mark.parametrize("path", [("train",), ("predict",), ("list",), ("run", "rest"),
                                  ("plot", "confusion-matrix")])
def test_example_project_file_sections_validate(example, path):
    from vergeml.cli import command_options
    from vergeml.env import Environment
    name, sub = path[0], (path[1] if len(path) > 1 else None)
    command = plugins.instantiate(plugins.COMMANDS, name)
    if command is None:
        command = Environment(REPO).model().commands()[name]()
    options = command_options(command, sub)
    section = example.section(*path)
    assert section, f"vergeml.yaml.example has no {'.'.join(path)} section"
    required = {o.name: "x.jpg" for o in options if o.required}  # e.g. predict's <files>
    resolved = options.resolve(required, section, where=".".join(path), lines=example.lines)
    for key, value in section.items():
        assert resolved[options.get(key).name] == options.get(key).parse(value)
