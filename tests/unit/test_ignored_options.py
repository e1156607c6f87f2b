"""An option that has no effect with the others typed says so in one warning line
(issue 30, item 9): ``ml @x predict --compact --format=json``."""
from types import SimpleNamespace

import pytest
from PIL import Image

from vergeml.commands.predict import PredictCommand


@pytest.fixture
def predicted(tmp_path, monkeypatch):
    """Run predict on one image with a stand-in predictor: ``run(**options)`` -> captured."""
    path = tmp_path / "a.png"
    Image.new("RGB", (8, 8)).save(path)
    result = {"filename": "a.png", "path": str(path),
              "prediction": [{"label": "cat", "probability": 0.9}]}
    monkeypatch.setattr(PredictCommand, "_predict", staticmethod(lambda *a: [result]))
    env = SimpleNamespace(instance=lambda: None)

    def run(capsys, **options):
        args = {"files": [str(path)], "labels": 1, "format": "text", "compact": False, **options}
        assert PredictCommand().run(args, env) == 0
        return capsys.readouterr()
    return run


def test_compact_with_json_warns_once(predicted, capsys):
    out = predicted(capsys, format="json", compact=True)
    assert out.err.splitlines() == ["Warning: --compact has no effect with --format=json "
                                    "(the JSON lists every label asked for)"]
    assert out.out.lstrip().startswith("[")


@pytest.mark.parametrize("options", [{"format": "json"}, {"compact": True}, {}])
def test_no_warning_otherwise(predicted, capsys, options):
    assert predicted(capsys, **options).err == ""
