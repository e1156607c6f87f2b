"""The project file and the global options (vergeml.settings.project_settings)."""
import pytest

from vergeml.settings.project_settings import (GLOBAL_OPTIONS, ProjectFile, check_top_level_keys, find_project_file,
                            load_project_file, resolve_globals)
from vergeml.errors import ConfigError


def write(tmp_path, text, name="vergeml.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path):
    with pytest.raises(ConfigError) as info:
        load_project_file(path)
    assert info.value.exit_code == 2
    return info.value


# -- loading ------------------------------------------------------------------------

def test_loads_mapping_with_line_numbers(tmp_path):
    path = write(tmp_path, "model: imagenet\n\ntrain:\n  epochs: 3\n  learning-rate: 0.01\n")
    project = load_project_file(path)
    assert project.path == path
    assert project.data == {"model": "imagenet", "train": {"epochs": 3, "learning-rate": 0.01}}
    assert project.lines.get("model") == ("vergeml.yaml", 1)
    assert project.lines.get("train") == ("vergeml.yaml", 3)
    assert project.lines.get("train.learning-rate") == ("vergeml.yaml", 5)
    assert project.lines.get("train.missing") is None


@pytest.mark.parametrize("text", ["", "# just a comment\n", "---\n"])
def test_empty_file_is_an_empty_project(tmp_path, text):
    assert load_project_file(write(tmp_path, text)).data == {}


@pytest.mark.parametrize("text, where, problem", [
    ("model: imagenet\ntrain:\n  epochs: 5\n lr: 1\n", "vergeml.yaml:4:2:", "expected <block end>"),
    ("train:\n\tepochs: 5\n", "vergeml.yaml:2:1:", "found character '\\t'"),
    ("a: b: c\n", "vergeml.yaml:1:5:", "mapping values are not allowed here"),
    ("train:\n  epochs: [1, 2\nx: 1\n", "vergeml.yaml:3:2:", "expected ',' or ']'"),
])
def test_yaml_syntax_error_shows_file_line_and_column(tmp_path, text, where, problem):
    error = config_error(write(tmp_path, text))
    assert error.message.startswith(f"{where} syntax error: "), error.message
    assert problem in error.message
    assert "syntax" in error.hint


@pytest.mark.parametrize("text", ["- a\n- b\n", "hello\n", "42\n"])
def test_non_mapping_file_is_rejected(tmp_path, text):
    error = config_error(write(tmp_path, text))
    assert error.message == "vergeml.yaml: the project file must be a mapping of keys to values"


def test_unreadable_file(tmp_path):
    (tmp_path / "vergeml.yaml").mkdir()
    error = config_error(tmp_path / "vergeml.yaml")
    assert error.message.startswith("cannot read project file ")


def test_yaml_is_loaded_safely(tmp_path):
    error = config_error(write(tmp_path, "model: !!python/object/apply:os.system ['true']\n"))
    assert "syntax error" in error.message


def test_underscore_keys_are_canonicalised_except_inside_data(tmp_path):
    path = write(tmp_path, "samples_dir: pics\nrandom_seed: 7\ntrain:\n  learning_rate: 0.1\n"
                           "  batch_size: 8\nrun:\n  rest:\n    no_browser: true\n"
                           "data:\n  input:\n    type: labeled-image\n  my_class: keep\n")
    project = load_project_file(path)
    assert project.data["samples-dir"] == "pics"
    assert project.data["random-seed"] == 7
    assert project.data["train"] == {"learning-rate": 0.1, "batch-size": 8}
    assert project.section("run", "rest") == {"no-browser": True}
    assert project.data["data"] == {"input": {"type": "labeled-image"}, "my_class": "keep"}
    assert project.lines.get("train.learning-rate") == ("vergeml.yaml", 4)
    assert project.lines.get("train.learning_rate") == ("vergeml.yaml", 4)
    assert project.lines.get("run.rest.no-browser") == ("vergeml.yaml", 8)


def test_section_is_empty_when_absent_or_not_a_mapping():
    project = ProjectFile(data={"train": {"epochs": 1}, "list": "oops"})
    assert project.section("train") == {"epochs": 1}
    assert project.section("predict") == {}
    assert project.section("list") == {}
    assert project.section("run", "rest") == {}


# -- finding the file ---------------------------------------------------------------

def test_find_project_file(tmp_path):
    assert find_project_file(tmp_path) is None
    path = write(tmp_path, "model: imagenet\n")
    assert find_project_file(tmp_path) == path
    other = write(tmp_path, "model: imagenet\n", name="other.yaml")
    assert find_project_file(tmp_path, explicit=str(other)) == other
    with pytest.raises(ConfigError, match="project file not found: nope.yaml"):
        find_project_file(tmp_path, explicit="nope.yaml")


# -- global options -----------------------------------------------------------------

def test_every_reference_global_option_is_declared():
    expected = {"model": "m", "file": "f", "version": "v", "help": "h"}
    for name in ("model", "file", "samples-dir", "test-split", "val-split", "cache-dir",
                 "random-seed", "trainings-dir", "project-dir", "cache", "device",
                 "device-memory", "version", "help"):
        option = GLOBAL_OPTIONS.get(name)
        assert option is not None, name
        assert option.help, name
        assert option.short == expected.get(name, ""), name


def test_global_defaults():
    settings = resolve_globals({}, ProjectFile())
    assert settings["samples-dir"] == "samples"
    assert settings["val-split"] == "10%" and settings["test-split"] == "10%"
    assert settings["cache-dir"] == ".cache"
    assert settings["trainings-dir"] == "trainings"
    assert settings["random-seed"] == 42
    assert settings["cache"] is None  # unset: data: cache: of the project file, else auto
    assert settings["device"] == "auto" and settings["device-memory"] == "auto"


def test_global_precedence_cli_over_yaml_over_default(tmp_path):
    project = load_project_file(write(tmp_path, "random_seed: 7\nsamples-dir: pics\ncache: mem\n"
                                                "train:\n  epochs: 1\n"))
    settings = resolve_globals({}, project)
    assert (settings["random-seed"], settings["samples-dir"], settings["cache"]) == (7, "pics", "mem")
    assert settings["cache-dir"] == ".cache"
    settings = resolve_globals({"random-seed": "9", "cache": "none"}, project)
    assert (settings["random-seed"], settings["samples-dir"], settings["cache"]) == (9, "pics", "none")


def test_global_value_error_is_located(tmp_path):
    project = load_project_file(write(tmp_path, "model: imagenet\nrandom-seed: lucky\n"))
    with pytest.raises(ConfigError) as info:
        resolve_globals({}, project)
    assert info.value.message == 'vergeml.yaml:2:14: random-seed: expected an integer, got "lucky"'
    assert info.value.message.excerpt == ("random-seed: lucky", " " * 13 + "^")
    project = load_project_file(write(tmp_path, "cache: dsk\n"))
    with pytest.raises(ConfigError) as info:
        resolve_globals({}, project)
    assert info.value.message == ('vergeml.yaml:1:8: cache: expected one of auto, none, disk, mem, '
                                  "disk-in, mem-in, got \"dsk\". Did you mean 'disk'?")
    assert info.value.message.excerpt == ("cache: dsk", " " * 7 + "^")


def test_command_line_only_globals_are_rejected_in_the_file(tmp_path):
    project = load_project_file(write(tmp_path, "model: imagenet\nfile: other.yaml\n"))
    with pytest.raises(ConfigError) as info:
        resolve_globals({}, project)
    assert info.value.message == ("vergeml.yaml:2:1: unknown option file "
                                  "(--file can only be given on the command line)")
    assert info.value.message.excerpt == ("file: other.yaml", "^")


# -- top-level keys -----------------------------------------------------------------

def test_unknown_top_level_key_with_did_you_mean(tmp_path):
    project = load_project_file(write(tmp_path, "model: imagenet\n\nsamples-dri: pics\n"))
    with pytest.raises(ConfigError) as info:
        check_top_level_keys(project, lambda: ["train", "predict"])
    assert info.value.message == "vergeml.yaml:3:1: unknown option samples-dri. Did you mean 'samples-dir'?"
    assert info.value.message.excerpt == ("samples-dri: pics", "^")


def test_unknown_top_level_key_may_match_a_section_name(tmp_path):
    project = load_project_file(write(tmp_path, "trian:\n  epochs: 2\n"))
    with pytest.raises(ConfigError) as info:
        check_top_level_keys(project, lambda: ["train", "predict"])
    assert info.value.message == "vergeml.yaml:1:1: unknown option trian. Did you mean 'train'?"
    assert info.value.message.excerpt == ("trian:", "^")


def test_known_top_level_keys_pass_without_listing_sections(tmp_path):
    project = load_project_file(write(tmp_path, "model: imagenet\nrandom_seed: 1\ndata:\n  cache: mem\n"))

    def sections():
        raise AssertionError("section names should not be needed")
    check_top_level_keys(project, sections)
    project = load_project_file(write(tmp_path, "model: imagenet\ntrain:\n  epochs: 1\n"))
    check_top_level_keys(project, lambda: ["train"])
