"""A grid whose later run cannot work fails before the first run trains (issue 30, item 8)."""
import pytest

from tests.conftest import run_ml_process
from tests.e2e.conftest import digits_subset, instance_names

pytestmark = pytest.mark.e2e


def test_a_grid_with_an_impossible_run_trains_nothing(tmp_path, ml_env):
    project = digits_subset(tmp_path / "project", 5)
    (project / "vergeml.yaml").write_text("model: imagenet\ntrain:\n  alpha: 0.25\n")
    result = run_ml_process("train", "--architecture=mobilenet,resnet-50", "--weights=none",
                            "--epochs=1", "--size=32", cwd=project, env=ml_env)
    assert result.returncode == 2, result.output[-2000:]
    assert result.stderr.startswith("Error: grid run 2 of 2 (architecture=resnet-50): invalid alpha "
                                    "value: 0.25: resnet-50 has no alpha"), result.stderr
    assert instance_names(project) == []
    assert not (project / ".cache").exists()  # nothing was extracted either
