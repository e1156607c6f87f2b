"""``ml new <dir>``: scaffolding a project (vergeml.commands.new)."""
import pytest
import yaml

from vergeml.settings.project_settings import load_project_file
from vergeml.models.imagenet.commands import TrainCommand
from vergeml.models.imagenet.imagenet_options import TRAIN_OPTIONS


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_new_creates_the_project(call_ml, in_tmp):
    result = call_ml("new", "demo")
    assert result.returncode == 0, result.output
    assert result.stdout.splitlines()[0] == "Created new project: demo"
    folder = in_tmp / "demo"
    assert sorted(p.name for p in folder.iterdir()) == [".gitignore", "samples", "vergeml.yaml"]
    assert (folder / "samples").is_dir() and not any((folder / "samples").iterdir())
    text = (folder / "vergeml.yaml").read_text()
    assert text.endswith("\n")
    data = yaml.safe_load(text)
    assert data["model"] == "imagenet"
    gitignore = (folder / ".gitignore").read_text().split()
    assert ".cache/" in gitignore and "trainings/" in gitignore


def test_new_project_file_is_valid_configuration(call_ml, in_tmp, monkeypatch):
    assert call_ml("new", "demo").returncode == 0
    project = load_project_file(in_tmp / "demo" / "vergeml.yaml")
    assert set(project.data) <= {"model", "train", "samples-dir", "val-split", "test-split"}
    for key in project.section("train"):
        assert key in {o.name for o in TRAIN_OPTIONS}, key
    calls = []
    monkeypatch.setattr(TrainCommand, "run", lambda self, args, env: calls.append(args) or 0)
    monkeypatch.chdir(in_tmp / "demo")
    result = call_ml("train")
    assert result.returncode == 0, result.output
    assert calls[0]["architecture"] == project.section("train").get("architecture", "resnet-50")


def test_new_refuses_to_overwrite_without_force(call_ml, in_tmp):
    assert call_ml("new", "demo").returncode == 0
    project_file = in_tmp / "demo" / "vergeml.yaml"
    project_file.write_text("model: imagenet\n# mine\n")
    result = call_ml("new", "demo")
    assert result.returncode == 2
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert "Traceback" not in result.stderr
    assert project_file.read_text() == "model: imagenet\n# mine\n"


def test_new_force_overwrites_only_the_project_file(call_ml, in_tmp):
    assert call_ml("new", "demo").returncode == 0
    folder = in_tmp / "demo"
    (folder / "vergeml.yaml").write_text("model: imagenet\n# mine\n")
    (folder / ".gitignore").write_text("custom\n")
    (folder / "samples" / "cat").mkdir()
    (folder / "samples" / "cat" / "a.jpg").write_bytes(b"jpeg")
    for argv in (["new", "demo", "--force"], ["new", "--force", "demo"], ["--force", "new", "demo"]):
        result = call_ml(*argv)
        assert result.returncode == 0, (argv, result.output)
        assert "# mine" not in (folder / "vergeml.yaml").read_text()
        assert yaml.safe_load((folder / "vergeml.yaml").read_text())["model"] == "imagenet"
        (folder / "vergeml.yaml").write_text("model: imagenet\n# mine\n")
    assert (folder / ".gitignore").read_text() == "custom\n"
    assert (folder / "samples" / "cat" / "a.jpg").read_bytes() == b"jpeg"


@pytest.mark.parametrize("force, overwrites", [("--force=yes", True), ("--force=on", True),
                                               ("--force=1", True), ("--force=no", False)])
def test_new_force_takes_a_boolean_value(call_ml, in_tmp, force, overwrites):
    assert call_ml("new", "demo").returncode == 0
    project_file = in_tmp / "demo" / "vergeml.yaml"
    project_file.write_text("model: imagenet\n# mine\n")
    result = call_ml("new", "demo", force)
    if overwrites:
        assert result.returncode == 0, result.output
        assert "# mine" not in project_file.read_text()
        assert yaml.safe_load(project_file.read_text())["model"] == "imagenet"
    else:
        assert result.returncode == 2
        assert "already exists" in result.stderr
        assert project_file.read_text() == "model: imagenet\n# mine\n"


def test_new_in_existing_folder_without_project_file(call_ml, in_tmp):
    (in_tmp / "pics" / "samples" / "dog").mkdir(parents=True)
    result = call_ml("new", "pics")
    assert result.returncode == 0, result.output
    assert (in_tmp / "pics" / "vergeml.yaml").is_file()
    assert (in_tmp / "pics" / "samples" / "dog").is_dir()


def test_new_nested_absolute_and_project_dir(call_ml, in_tmp, tmp_path_factory):
    assert call_ml("new", "a/b/c").returncode == 0
    assert (in_tmp / "a" / "b" / "c" / "vergeml.yaml").is_file()
    target = tmp_path_factory.mktemp("abs") / "proj"
    assert call_ml("new", str(target)).returncode == 0
    assert (target / "vergeml.yaml").is_file()
    base = tmp_path_factory.mktemp("base")
    assert call_ml("--project-dir", str(base), "new", "x").returncode == 0
    assert (base / "x" / "vergeml.yaml").is_file()
    assert not (in_tmp / "x").exists()


@pytest.mark.parametrize("argv, message", [
    (["new"], "missing the project folder"),
    (["new", "a", "b"], "unexpected argument 'b'"),
    (["--model=nope", "new", "a"], "unknown model 'nope'"),
    (["new", "a", "--force=maybe"], 'Error: --force: expected true or false, got "maybe"'),
    (["@bob", "new", "a"], "does not take an @instance"),
])
def test_new_usage_errors(call_ml, in_tmp, argv, message):
    result = call_ml(*argv)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (in_tmp / "a").exists()


def test_new_where_a_file_is_in_the_way(call_ml, in_tmp):
    (in_tmp / "taken").write_text("not a folder")
    result = call_ml("new", "taken")
    assert result.returncode == 2
    assert result.stderr.startswith("Error: ") and "is not a folder" in result.stderr
    assert "Traceback" not in result.stderr
    assert (in_tmp / "taken").read_text() == "not a folder"


def test_new_below_a_file_is_a_one_line_error(call_ml, in_tmp):
    (in_tmp / "taken").write_text("not a folder")
    result = call_ml("new", "taken/project")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: cannot create the project in ")
    assert "Not a directory" in result.stderr and "bug" not in result.stderr
