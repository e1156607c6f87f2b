"""The docs and the example project file agree with the option declarations."""
from pathlib import Path

import pytest

from vergeml.plugins import registry as plugins
from vergeml.settings.project_settings import load_project_file, resolve_globals
from vergeml.cli.reference_docs import pages

REPO = Path(__file__).resolve().parents[2]


def test_generated_command_pages_are_up_to_date():
    stale = [rel for rel, text in pages().items()
             if not (REPO / "docs" / rel).is_file()
             or (REPO / "docs" / rel).read_text(encoding="utf-8") != text]
    assert not stale, f"run 'make docs': out of date: {stale}"


def test_every_train_option_is_in_the_train_page():
    from vergeml.models.imagenet.imagenet_options import TRAIN_OPTIONS
    page = pages()["commands/train.md"]
    for option in TRAIN_OPTIONS:
        assert f"`--{option.name}`" in page


@pytest.fixture(scope="module")
def example():
    return load_project_file(REPO / "vergeml.yaml.example")


def test_example_project_file_global_options_validate(example):
    settings = resolve_globals({}, example)
    assert settings["val-split"] == "10%" and settings["random-seed"] == 42


def _command(name):
    """A built-in command or a model command, by name."""
    from vergeml.settings.environment import Environment
    command = plugins.instantiate(plugins.COMMANDS, name)
    return command or Environment(REPO).model().commands()[name]()


def _sections():
    """``(command,)`` or ``(command, sub)`` of everything with project-file options."""
    from vergeml.settings.environment import Environment
    names = plugins.names(plugins.COMMANDS) + sorted(Environment(REPO).model().commands())
    found = []
    for command in map(_command, names):
        if any(o.yaml and not o.positional for o in command.options):
            found.append((command.name,))
        for sub in plugins.names(command.subcommands) if command.subcommands else ():
            plugin = plugins.instantiate(command.subcommands, sub)
            if any(o.yaml and not o.positional for o in plugin.options):
                found.append((command.name, sub))
    return found


def test_example_project_file_shows_every_option():
    """Each option a project file may set appears in the example, set or commented out."""
    from vergeml.cli.main import command_options
    from vergeml.settings.project_settings import GLOBAL_OPTIONS
    text = (REPO / "vergeml.yaml.example").read_text()
    missing = [o.name for o in GLOBAL_OPTIONS if o.yaml and f"{o.name}:" not in text]
    for path in _sections():
        options = command_options(_command(path[0]), path[1] if len(path) > 1 else None)
        missing += [".".join(path + (o.name,)) for o in options
                    if o.yaml and not o.positional and f"{o.name}:" not in text]
    assert not missing, f"vergeml.yaml.example lacks {missing}"


@pytest.mark.parametrize("path", _sections())
def test_example_project_file_sections_validate(example, path):
    from vergeml.cli.main import command_options
    options = command_options(_command(path[0]), path[1] if len(path) > 1 else None)
    parent = example.section(*path[:-1]) if len(path) > 1 else example.data
    assert isinstance(parent.get(path[-1]), dict), \
        f"vergeml.yaml.example has no {'.'.join(path)} section"
    section = example.section(*path)
    required = {o.name: "x.jpg" for o in options if o.required}  # e.g. predict's <files>
    resolved = options.resolve(required, section, where=".".join(path), lines=example.lines)
    for key, value in section.items():
        assert resolved[options.get(key).name] == options.get(key).parse(value)
