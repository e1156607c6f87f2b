"""The forms the project file accepts, and how its errors are shown.

``device:`` as a mapping, every command option in its section, booleans in
any spelling, ``file:line:column`` with an excerpt for every error, and a
broken ``data:`` section reported only by the commands that read it.
"""
import pytest

from vergeml.runtimes import tensorflow_setup as backend
from vergeml.plugins import registry as plugins
from vergeml.cli.main import command_options
from vergeml.commands.predict import PredictCommand
from vergeml.commands.run import RestService
from vergeml.settings.project_settings import ProjectFile, load_project_file, resolve_globals
from vergeml.settings.environment import Environment
from vergeml.errors import ConfigError
from vergeml.models.imagenet.commands import TrainCommand


def device_settings(settings):
    from vergeml.settings.project_settings import device_settings as validated
    return validated(settings)


def project_file(tmp_path, text):
    path = tmp_path / "vergeml.yaml"
    path.write_text(text, encoding="utf-8")
    return load_project_file(path)


@pytest.fixture
def recorded(monkeypatch):
    """Replace the ``run`` of train, predict and run:rest by a recorder of ``(name, args)``."""
    calls = []
    for cls in (TrainCommand, PredictCommand, RestService):
        monkeypatch.setattr(cls, "run", lambda self, args, env: calls.append((self.name, args)) or 0)
    return calls


# -- 1. device: as a mapping -----------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("device: {id: gpu:1}\n", {"id": "gpu:1", "memory": "auto", "grow-memory": True}),
    ("device: {id: cpu, memory: 50%, grow-memory: true}\n",
     {"id": "cpu", "memory": "50%", "grow-memory": True}),
    ("device:\n  id: gpu\n  grow_memory: no\n", {"id": "gpu", "memory": "auto", "grow-memory": False}),
    ("device: cpu\ndevice-memory: 80%\n", {"id": "cpu", "memory": "80%", "grow-memory": True}),
    ("model: imagenet\n", {"id": "auto", "memory": "auto", "grow-memory": True}),
])
def test_device_mapping_and_flat_forms(tmp_path, text, expected):
    settings = resolve_globals({}, project_file(tmp_path, text))
    assert device_settings(settings) == expected
    assert settings["device"] == expected["id"] and settings["device-memory"] == expected["memory"]


def test_command_line_device_wins_over_the_mapping(tmp_path):
    project = project_file(tmp_path, "device: {id: gpu:1, memory: 50%}\n")
    settings = resolve_globals({"device": "cpu", "device-memory": "70%"}, project)
    assert device_settings(settings) == {"id": "cpu", "memory": "70%", "grow-memory": True}


@pytest.mark.parametrize("text", [
    "model: imagenet\ndevice: {id: gpu:1}\n",
    "model: imagenet\ndevice: {id: cpu, memory: 50%, grow-memory: true}\n",
    "model: imagenet\ndevice: {id: tpu}\n",           # bad, but unused by these commands
    "model: imagenet\ndevice: {colour: red}\n",
    "model: imagenet\ndevice: [gpu]\n",
])
@pytest.mark.parametrize("argv", [["list"], ["help"], ["help", "train"], ["new", "fresh"]])
def test_commands_without_a_device_never_fail_on_it(call_ml, make_project, monkeypatch, text, argv):
    monkeypatch.chdir(make_project(text))
    result = call_ml(*argv)
    assert result.returncode == 0, result.output
    assert "device" not in result.stderr


def test_a_bad_command_line_device_fails_only_when_used(call_ml, project, monkeypatch):
    monkeypatch.chdir(project)
    assert call_ml("--device=tpu", "list").returncode == 0
    settings = resolve_globals({"device": "tpu"}, ProjectFile())
    with pytest.raises(ConfigError, match=r'^--device: expected auto, cpu, gpu or gpu:N, got "tpu"'):
        device_settings(settings)


@pytest.mark.parametrize("text, message", [
    ("model: imagenet\ndevice: {id: tpu}\n",
     'vergeml.yaml:2:14: device.id: expected auto, cpu, gpu or gpu:N, got "tpu"'),
    ("device:\n  memroy: 50%\n", "vergeml.yaml:2:3: unknown option device.memroy. Did you mean 'memory'?"),
    ("device: tpu\n", 'vergeml.yaml:1:9: device: expected auto, cpu, gpu or gpu:N, got "tpu"'),
    ("device: {memory: 50%}\ndevice-memory: 80%\n", "vergeml.yaml:2:1: device-memory: already set"),
])
def test_a_bad_device_is_reported_located_when_the_backend_loads(tmp_path, monkeypatch, text, message):
    settings = resolve_globals({}, project_file(tmp_path, text))
    monkeypatch.setattr(backend, "_loaded", None)
    with pytest.raises(ConfigError) as info:
        backend.load(settings)  # raises before TensorFlow is imported
    assert info.value.message.startswith(message)


# -- 2. every option of every command in its section -----------------------------------

def _every_command():
    names = plugins.names(plugins.COMMANDS) + sorted(Environment(".").model().commands())
    for name in names:
        command = plugins.instantiate(plugins.COMMANDS, name) or Environment(".").model().commands()[name]()
        subs = plugins.names(command.subcommands) if command.subcommands else [None]
        for sub in subs:
            yield command, sub


def test_every_named_option_of_every_command_may_be_set_in_its_section():
    """help is the exception: a help: key would be the global option --help."""
    cli_only = [f"{command.name}{':' + sub if sub else ''} --{option.name}"
                for command, sub in _every_command() if command.name != "help"
                for option in command_options(command, sub)
                if not option.positional and not option.yaml]
    assert not cli_only


def test_flags_apply_from_their_sections(call_ml, make_project, monkeypatch, recorded):
    monkeypatch.chdir(make_project("predict: {compact: yes}\nrun: {rest: {no-browser: true}}\n"))
    assert call_ml("@bob", "predict", "a.jpg").returncode == 0
    assert call_ml("@bob", "run:rest").returncode == 0
    assert recorded[0][0] == "predict" and recorded[0][1]["compact"] is True
    assert recorded[1][0] == "rest" and recorded[1][1]["no-browser"] is True


def test_the_command_line_flag_wins_over_the_section(call_ml, make_project, monkeypatch, recorded):
    monkeypatch.chdir(make_project("predict: {compact: yes}\n"))
    assert call_ml("@bob", "predict", "--compact=no", "a.jpg").returncode == 0
    assert recorded[0][1]["compact"] is False


def test_a_positional_argument_in_the_file_is_explained(call_ml, make_project, monkeypatch, recorded):
    monkeypatch.chdir(make_project("predict:\n  files: [a.jpg]\n"))
    result = call_ml("@bob", "predict", "b.jpg")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: vergeml.yaml:2:3: predict.files: <files> is a "
                                    "command-line argument; it cannot be set in the project file\n")
    assert not recorded


# -- 3. booleans in the file ---------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("yes", True), ("no", False), ("true", True), ("false", False), ("on", True), ("off", False),
    ("1", True), ("0", False), ("'yes'", True), ("'off'", False),
])
def test_booleans_in_the_file(call_ml, make_project, monkeypatch, recorded, value, expected):
    monkeypatch.chdir(make_project(f"predict:\n  compact: {value}\n"))
    assert call_ml("@bob", "predict", "a.jpg").returncode == 0
    assert recorded[0][1]["compact"] is expected


# -- 4. file:line:column and an excerpt ----------------------------------------------------
# (learning-rate accepts auto since issue 14, its new default: hence "or auto" below.)

@pytest.mark.parametrize("text, lines", [
    ("model: imagenet\ntrain:\n  learning-rate: fast\n",
     ['Error: vergeml.yaml:3:18: train.learning-rate: expected a number > 0 or auto, got "fast"',
      "  learning-rate: fast",
      "                 ^"]),
    ("model: imagenet\ndata:\n  preprocess: [resize]\n",
     ["Error: vergeml.yaml:3:16: data.preprocess.0: expected a mapping such as "
      "{op: resize, width: 64, height: 64}",
      "  preprocess: [resize]",
      "               ^"]),
    ("train:\n  epoch: 3\n",
     ["Error: vergeml.yaml:2:3: unknown option train.epoch. Did you mean 'epochs'?",
      "  epoch: 3",
      "  ^"]),
    ("random-seed: lucky\n",
     ['Error: vergeml.yaml:1:14: random-seed: expected an integer, got "lucky"',
      "random-seed: lucky",
      "             ^"]),
    ("data:\n  preprocess:\n    - op: resiz\n",
     ["Error: vergeml.yaml:3:11: data.preprocess.0.op: unknown operation 'resiz'. "
      "Did you mean 'resize'?",
      "    - op: resiz",
      "          ^"]),
    ("model: imagenet\ntrain:\n  epochs: 5\n lr: 1\n",
     ["Error: vergeml.yaml:4:2: syntax error: expected <block end>, but found '<block mapping start>'",
      " lr: 1",
      " ^",
      "Fix the YAML syntax of the project file and try again."]),
])
def test_errors_show_line_column_and_a_caret(call_ml, make_project, monkeypatch, text, lines):
    folder = make_project(text)
    monkeypatch.chdir(folder)
    result = call_ml("train")
    assert result.returncode == 2
    assert result.stderr.splitlines() == lines
    assert not (folder / "trainings").exists()


def test_yaml_syntax_error_at_the_end_of_the_file_points_after_the_last_line(tmp_path):
    with pytest.raises(ConfigError) as info:
        project_file(tmp_path, "model: imagenet\ntrain:\n  epochs: [1\n")
    assert info.value.message.startswith("vergeml.yaml:4:1: syntax error:")
    assert info.value.message.excerpt == ("  epochs: [1", "            ^")


# -- 5. a broken data: section -------------------------------------------------------------

BROKEN_DATA = "model: imagenet\ndata:\n  input:\n    type: labeled-imag\n"
DATA_ERROR = ["Error: vergeml.yaml:4:11: data.input.type: unknown type 'labeled-imag'; "
              "expected one of image, labeled-image, mnist. Did you mean 'labeled-image'?",
              "    type: labeled-imag",
              "          ^"]


@pytest.mark.parametrize("argv", [["train"], ["preprocess"], ["preprocess", "out", "--split=val"]])
def test_commands_reading_the_data_report_a_broken_data_section_alike(call_ml, make_project,
                                                                      monkeypatch, argv):
    folder = make_project(BROKEN_DATA)
    monkeypatch.chdir(folder)
    result = call_ml(*argv)
    assert result.returncode == 2
    assert result.stderr.splitlines() == DATA_ERROR
    assert not (folder / "out").exists() and not (folder / "trainings").exists()


@pytest.mark.parametrize("argv", [["list"], ["help"], ["help", "data"], ["help", "train"],
                                  ["@bob", "predict", "a.jpg"], ["@bob", "run:rest"]])
def test_commands_not_reading_the_data_ignore_a_broken_data_section(call_ml, make_project,
                                                                    monkeypatch, recorded, argv):
    monkeypatch.chdir(make_project(BROKEN_DATA))
    result = call_ml(*argv)
    assert result.returncode == 0, result.output
    assert "data" not in result.stderr
