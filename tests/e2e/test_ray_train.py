"""End-to-end: `ml train --engine=ray` on a loopback cluster of two nodes, from the CLI."""
import time

import pytest

from tests.conftest import run_ml_process
from tests.e2e.conftest import TRAIN_ARGS
from tests.ray_helpers import free_address, loopback_cluster

pytestmark = pytest.mark.e2e
ARGS = [a for a in TRAIN_ARGS if not a.startswith("--epochs")] + ["--epochs=2"]


@pytest.fixture(scope="module")
def address():
    with loopback_cluster() as address:
        yield address


# A second cluster start (~25 s) on top of the integration tests': make test-all.
@pytest.mark.slow
def test_train_on_the_cluster_then_locally_from_the_same_cache(address, faces_project, ml_env):
    ray = run_ml_process("train", "--engine=ray", f"--ray-address={address}", *ARGS,
                         cwd=faces_project, env=ml_env, timeout=400)
    assert ray.returncode == 0, ray.output
    assert "Ray: 40 images on 2 node(s)" in ray.stdout
    assert "cache: 0 hit, 40 new" in ray.stdout
    assert "test_acc" in ray.stdout

    # The project file can choose the engine too; everything is cached now, so it never connects.
    (faces_project / "vergeml.yaml").write_text(
        f"model: imagenet\nengine: ray\nray-address: {free_address()}\n")
    again = run_ml_process("train", *ARGS, cwd=faces_project, env=ml_env, timeout=300)
    assert again.returncode == 0, again.output
    assert "cache: 40 hit, 0 new" in again.stdout and "Ray:" not in again.stdout
    local = run_ml_process("train", "--engine=local", *ARGS, cwd=faces_project, env=ml_env,
                           timeout=300)
    assert local.returncode == 0, local.output
    assert "cache: 40 hit, 0 new" in local.stdout


def test_an_unreachable_cluster_is_one_line_and_fast(faces_project, ml_env):
    nowhere = free_address()
    started = time.monotonic()
    result = run_ml_process("train", "--engine=ray", f"--ray-address={nowhere}", *ARGS,
                            cwd=faces_project, env=ml_env, timeout=120)
    took = time.monotonic() - started
    assert result.returncode == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and nowhere in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert took < 60, took   # TensorFlow's import included; the probe itself is 5 s
