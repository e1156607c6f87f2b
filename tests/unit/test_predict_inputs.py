"""`ml @x predict`: inputs are checked before the model (and TensorFlow) is loaded."""
import json
import os

import pytest
import yaml
from PIL import Image

from vergeml.commands.predict import PredictCommand
from vergeml.settings.environment import Environment
from vergeml.models.model_base import Predictor


class FakePredictor(Predictor):
    labels = ("a", "b")

    def __init__(self, calls):
        self.calls = calls

    def predict_files(self, paths, top_k=5, **options):
        self.calls.append(list(paths))
        return [{"filename": os.path.basename(p), "path": p,
                 "prediction": self.top([0.25, 0.75], top_k)} for p in paths]


class FakeModel:
    def __init__(self, calls):
        self.calls = calls

    def predictor(self, instance, settings=None):
        return FakePredictor(self.calls)


@pytest.fixture
def project(tmp_path, monkeypatch):
    folder = tmp_path / "trainings" / "fake-tron"
    folder.mkdir(parents=True)
    (folder / "data.yaml").write_text(yaml.safe_dump({"name": "fake-tron", "model": "imagenet",
                                                      "status": "finished"}))
    Image.new("RGB", (4, 4)).save(tmp_path / "good.png")
    (tmp_path / "notes.jpg").write_text("not an image")
    (tmp_path / "folder").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "folder" / "ok.jpg")
    (tmp_path / "folder" / "broken.png").write_bytes(b"\x00garbage")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_predict(project, capsys, monkeypatch, *files, **options):
    calls = []
    env = Environment(project, settings={"trainings-dir": "trainings"}, instance_names=["fake-tron"])
    monkeypatch.setattr(env, "model", lambda: FakeModel(calls))
    command = PredictCommand()
    args = command.option_set().resolve({"files": list(files), **options}, None)
    code = command.run(args, env)
    out, err = capsys.readouterr()
    return code, out, err, calls


def test_input_problems_are_found_without_decoding(project):
    from vergeml.cli.inputs import input_problem
    assert input_problem("good.png") is None
    assert input_problem("missing.jpg") == "No such file or directory"
    assert input_problem("folder") == "is a directory"
    assert input_problem("notes.jpg") == "not an image or unsupported format"


def test_missing_files_never_load_the_model(project, capsys, monkeypatch):
    code, out, err, calls = run_predict(project, capsys, monkeypatch, "missing.jpg", "notes.jpg")
    assert code == 1 and out == ""
    assert err.splitlines() == ["missing.jpg: No such file or directory",
                                "notes.jpg: not an image or unsupported format"]
    assert calls == []


def test_good_files_are_predicted_and_results_keep_the_order(project, capsys, monkeypatch):
    code, out, err, calls = run_predict(project, capsys, monkeypatch, "missing.jpg", "good.png",
                                        "folder", format="json")
    assert code == 0
    assert calls == [["good.png", os.path.join("folder", "ok.jpg")]]
    results = json.loads(out)
    assert [r["path"] for r in results] == ["missing.jpg", "good.png",
                                            os.path.join("folder", "broken.png"),
                                            os.path.join("folder", "ok.jpg")]
    assert results[0] == {"filename": "missing.jpg", "path": "missing.jpg",
                          "error": "No such file or directory"}
    assert results[1]["prediction"][0]["label"] == "b"
    assert err.splitlines() == ["missing.jpg: No such file or directory",
                                f"{os.path.join('folder', 'broken.png')}: "
                                "not an image or unsupported format"]


def test_an_unknown_instance_is_reported_before_the_files(project, capsys, monkeypatch):
    from vergeml.errors import UsageError
    env = Environment(project, settings={"trainings-dir": "trainings"}, instance_names=["nope"])
    command = PredictCommand()
    args = command.option_set().resolve({"files": ["missing.jpg"]}, None)
    with pytest.raises(UsageError, match="unknown instance @nope"):
        command.run(args, env)
