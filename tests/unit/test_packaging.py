"""What ``pip install vergeml`` asks for: TensorFlow's own package (it uses a GPU where one
exists), the CPU-only build only when asked (``make test``), and a ``gpu`` extra with CUDA."""
import runpy

import pytest

from tests.conftest import REPO


def requirements(monkeypatch, value=None):
    """``setup()``'s keyword arguments when setup.py runs with ``VERGEML_TENSORFLOW=value``."""
    import setuptools
    seen = {}
    if value is None:
        monkeypatch.delenv("VERGEML_TENSORFLOW", raising=False)
    else:
        monkeypatch.setenv("VERGEML_TENSORFLOW", value)
    monkeypatch.setattr(setuptools, "setup", lambda **kwargs: seen.update(kwargs))
    monkeypatch.chdir(REPO)
    runpy.run_path(str(REPO / "setup.py"), run_name="__main__")
    return seen


def test_the_default_install_gets_tensorflow_that_can_use_a_gpu(monkeypatch):
    seen = requirements(monkeypatch)
    tf = [r for r in seen["install_requires"] if r.startswith("tensorflow")]
    assert tf == ["tensorflow>=2.16"]
    assert seen["extras_require"]["gpu"] == ["tensorflow[and-cuda]>=2.16"]


def test_make_test_installs_the_cpu_build(monkeypatch):
    seen = requirements(monkeypatch, "tensorflow-cpu")
    assert "tensorflow-cpu>=2.16" in seen["install_requires"]
    assert "VERGEML_TENSORFLOW=tensorflow-cpu" in (REPO / "Makefile").read_text()


def test_another_package_name_is_refused(monkeypatch):
    with pytest.raises(SystemExit, match="expected tensorflow or tensorflow-cpu"):
        requirements(monkeypatch, "tensorflow-gpu")
