"""``ml download`` as a user runs it: the real ``ml`` in a subprocess."""
import pytest

from tests.conftest import run_ml_process

pytestmark = pytest.mark.e2e


def ml(*argv, cwd):
    """The real ``ml`` in a subprocess (the venv's script, else ``python -m vergeml``)."""
    return run_ml_process(*argv, cwd=cwd, timeout=120)


def test_cli_download_digits(tmp_path):
    result = ml("download:digits", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Wrote 1,797 images in 10 classes to samples/" in result.stdout
    assert len(list((tmp_path / "samples").rglob("*.png"))) == 1797


def test_cli_download_without_dataset(tmp_path):
    result = ml("download", cwd=tmp_path)
    assert result.returncode == 2
    assert "download:digits" in result.stderr and "Traceback" not in result.stderr


def test_cli_unknown_dataset(tmp_path):
    result = ml("download:digts", cwd=tmp_path)
    assert result.returncode == 2
    assert "download:digits" in result.stderr and "Traceback" not in result.stderr
