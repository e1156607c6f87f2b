"""`ml preprocess` of an empty split says there is nothing to write instead of `Wrote 0 images`."""
import pytest

from tests.unit.test_data_helpers import image_project, make_env
from vergeml.commands.preprocess import PreprocessCommand
from vergeml.errors import VergeMLError


def run(env, **args):
    return PreprocessCommand().run({"split": "all", "num-samples": None, "directory": "out",
                                    **args}, env)


def test_an_empty_split_is_an_error_and_writes_nothing(tmp_path, capsys):
    project = image_project(tmp_path / "p", per_class=5)
    env = make_env(project, val_split="0", test_split="2")
    with pytest.raises(VergeMLError) as info:
        run(env, split="val")
    assert info.value.message == "nothing to write: the val split is empty"
    assert info.value.exit_code == 1 and info.value.hint is None
    assert "Wrote" not in capsys.readouterr().out
    assert not (project / "out").exists()


def test_all_splits_empty_is_named_in_one_line(tmp_path):
    from vergeml.data.preprocess_export import _empty
    assert _empty(("val",)) == "the val split is empty"
    assert _empty(("train", "val", "test")) == "the train, val and test splits are empty"


def test_an_empty_split_among_others_is_simply_left_out(tmp_path, capsys):
    project = image_project(tmp_path / "p", per_class=5)
    assert run(make_env(project, val_split="0", test_split="2")) == 0
    assert "Wrote 10 images" in capsys.readouterr().out
    assert not (project / "out" / "val").exists()
