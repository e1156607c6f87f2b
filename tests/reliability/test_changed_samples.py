"""An image rewritten or deleted while ``ml train`` runs.

``ml`` is paused at a named point after fingerprinting (:mod:`vergeml.faults`),
the test changes a sample file, and ``ml`` continues. It must stop with a
one-line error naming the file, and never leave a wrong cache entry: the next
run's entry for a rewritten image holds the features of the NEW image.
"""
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.e2e.conftest import instance_names, read_metadata
from tests.reliability.fault_helpers import (
    ARGS, FINE_TUNE, TOTAL, Paused, assert_cache_valid, cache_entries, copy_project, reference,
    run_ml, statuses)

pytestmark = pytest.mark.e2e

CHANGED = "3/010.png"  # in the training split (see test_image_rewritten_before_fine_tuning)
DONOR = "5/001.png"  # in the fast case the new content is this sample's: its features are known
DELETED = "7/010.png"
AFTER_FINGERPRINT = "file.replace:vergeml.splits.json"  # checked and split, nothing extracted


@pytest.fixture(scope="module")
def ref(tmp_path_factory, ml_env):
    return reference(tmp_path_factory, ml_env)


def change_while_paused(project, ml_env, change, args=ARGS, point=AFTER_FINGERPRINT, hit=1):
    """Run ``ml train`` to ``point``, apply ``change()``, let it go on; (status, output)."""
    run = Paused(project, ml_env, ("train", *args), point, hit).wait()
    change()
    run.go()
    return run.finish(), run.output()


def assert_one_line_error(status, output, *expected):
    assert status == 1, output[-3000:]
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, output[-3000:]
    for text in expected:
        assert text in errors[0], (text, errors[0])


def features(project):
    (stage,) = [s for s in cache_entries(project) if s.startswith("features:")]
    return cache_entries(project)[stage]


@pytest.mark.slow
def test_image_rewritten_during_extraction(ref, ml_env, tmp_path):
    project = copy_project(ref, tmp_path / "project", cache=False)
    donor = (project / "samples" / DONOR).read_bytes()
    status, output = change_while_paused(
        project, ml_env, lambda: (project / "samples" / CHANGED).write_bytes(donor))
    assert_one_line_error(status, output, CHANGED, "changed while running")
    assert instance_names(project) == []
    assert_cache_valid(project, ref)  # what was extracted is right for its key

    result = run_ml(project, ml_env, "train", *ARGS, "--epochs=1")
    assert result.returncode == 0 and "Traceback" not in result.output, result.output[-3000:]
    # The rewritten file now has the donor's content, so it shares the donor's key and
    # vector; the old content's entry was pruned: one vector fewer than samples.
    assert assert_cache_valid(project, ref) == TOTAL - 1


@pytest.mark.slow
def test_rewritten_image_gets_the_new_images_features(ref, ml_env, tmp_path):
    project = copy_project(ref, tmp_path / "project", cache=False)
    path = project / "samples" / CHANGED

    def rewrite():  # a new image, unknown to every cache
        with Image.open(path) as image:
            image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).rotate(90).save(path)
    status, output = change_while_paused(project, ml_env, rewrite)
    assert_one_line_error(status, output, CHANGED, "changed while running")
    assert_cache_valid(project, ref)
    result = run_ml(project, ml_env, "train", *ARGS, "--epochs=1")
    assert result.returncode == 0, result.output[-3000:]

    # A witness: the same samples in a project that never saw the old image.
    witness = tmp_path / "witness"
    witness.mkdir()
    (witness / "vergeml.yaml").write_bytes((project / "vergeml.yaml").read_bytes())
    shutil.copytree(project / "samples", witness / "samples")
    result = run_ml(witness, ml_env, "train", *ARGS, "--epochs=1")
    assert result.returncode == 0, result.output[-3000:]
    mine, truth = features(project), features(witness)
    assert set(mine) == set(truth) and len(mine) == TOTAL
    new_keys = set(truth) - set(ref.entries[next(s for s in ref.entries if s.startswith("features:"))])
    assert len(new_keys) == 1  # the rewritten image
    for key in truth:
        np.testing.assert_allclose(mine[key], truth[key], rtol=1e-3, atol=1e-3, err_msg=key)


@pytest.mark.slow
def test_image_deleted_during_extraction(ref, ml_env, tmp_path):
    project = copy_project(ref, tmp_path / "project", cache=False)
    status, output = change_while_paused(project, ml_env,
                                         lambda: (project / "samples" / DELETED).unlink())
    assert_one_line_error(status, output, DELETED)
    assert instance_names(project) == []
    assert_cache_valid(project, ref)
    result = run_ml(project, ml_env, "train", *ARGS, "--epochs=1")
    assert result.returncode == 0, result.output[-3000:]
    (name,) = instance_names(project)
    data = read_metadata(project, name)["data"]
    assert data["num_train"] + data["num_val"] + data["num_test"] == TOTAL - 1
    assert assert_cache_valid(project, ref) == TOTAL - 1


@pytest.mark.slow
def test_image_rewritten_before_fine_tuning(ref, ml_env, tmp_path):
    """Phase 2 decodes the images again: a file rewritten during phase 1 is caught
    there, the run ends ``failed`` with the one-line error, the caches stay right."""
    (files,) = [a["files"] for a in ref.splits["assignments"]]
    assert files[CHANGED][1] == "train"  # phase 2 decodes it
    project = copy_project(ref, tmp_path / "project")
    donor = (project / "samples" / DONOR).read_bytes()
    status, output = change_while_paused(
        project, ml_env, lambda: (project / "samples" / CHANGED).write_bytes(donor),
        args=ARGS + FINE_TUNE, point="top.epoch", hit=2)
    assert_one_line_error(status, output, CHANGED, "changed while running")
    (name,) = instance_names(project)
    assert statuses(project, ml_env) == {name: "failed"}
    assert "changed while running" in read_metadata(project, name)["error"]
    assert_cache_valid(project, ref)
