"""The quick start as a user types it: the real ``ml new`` and ``ml help train``."""
import pytest

from vergeml.models.imagenet.imagenet_options import TRAIN_OPTIONS

pytestmark = pytest.mark.e2e


def test_new_then_help_train_in_a_subprocess(run_ml, tmp_path):
    """The quick start: `ml new demo && cd demo && ml help train`."""
    code, out, err = run_ml("new", "demo", cwd=tmp_path)
    assert code == 0, err
    assert "Created new project: demo" in out
    code, out, err = run_ml("help", "train", cwd=tmp_path / "demo")
    assert code == 0, err
    assert "Traceback" not in err
    assert out.startswith("Train an image classifier.")
    for option in TRAIN_OPTIONS:
        assert f"--{option.name}" + ("" if option.flag else "=") in out, option.name
    code, out2, err = run_ml("train", "--help", cwd=tmp_path / "demo")
    assert code == 0 and out2 == out
