"""``--engine=ray`` logic without Ray or TensorFlow: options, actor sizing, the shipped
pixel processing (the local engine's code path), batch checks, errors, dispatch.

The cluster itself: tests/integration/test_ray_engine.py.
"""
import importlib.util
import os
import sys
import types

import numpy as np
import pytest

from tests.unit.test_data_helpers import BASE, image_project, make_env
from tests.unit.test_data_mnist import mnist_project
from vergeml.settings.project_settings import GLOBAL_OPTIONS
from vergeml.data import Cache, load_dataset
from vergeml.errors import ConfigError, VergeMLError
from vergeml.models.imagenet.extraction import feature_cache
from vergeml.models.imagenet.extraction import ray_cluster
from vergeml.models.imagenet.extraction import ray_engine

DRIVER, OTHER = "driver-node", "other-node"


# -- options ------------------------------------------------------------------


def test_engine_and_ray_address_default_to_todays_behaviour():
    values = GLOBAL_OPTIONS.resolve({}, {})
    assert values["engine"] == "local" and values["ray-address"] == "auto"


@pytest.mark.parametrize("address", ["auto", "10.0.0.5:6379", "head.example.org:6379",
                                     "[fe80::1]:6379"])
def test_ray_address_takes_auto_or_host_port(address):
    values = GLOBAL_OPTIONS.resolve({"engine": "ray", "ray-address": address}, {})
    assert values["engine"] == "ray" and values["ray-address"] == address


def test_engine_and_address_are_settable_in_the_project_file():
    values = GLOBAL_OPTIONS.resolve({}, {"engine": "ray", "ray-address": "head:6379"})
    assert (values["engine"], values["ray-address"]) == ("ray", "head:6379")


@pytest.mark.parametrize("typed,message", [
    ({"ray-address": "head"}, 'expected HOST:PORT or auto, got "head"'),
    ({"engine": "spark"}, "expected one of local, ray"),
])
def test_bad_engine_values_say_what_is_allowed(typed, message):
    with pytest.raises(ConfigError, match=message):
        GLOBAL_OPTIONS.resolve(typed, {})


# -- the extra and the environment -------------------------------------------------


def test_without_the_extra_the_error_names_it_in_one_line():
    with pytest.raises(VergeMLError) as error:
        ray_cluster.require_ray(find_spec=lambda name: None)
    assert error.value.message == "--engine=ray needs the ray extra: pip install 'vergeml[ray]'"


def test_connecting_turns_usage_stats_off_but_keeps_a_users_setting(monkeypatch):
    fake = types.SimpleNamespace(is_initialized=lambda: True)   # already connected: no init
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setattr(ray_cluster, "require_ray", lambda: None)
    monkeypatch.delenv("RAY_USAGE_STATS_ENABLED", raising=False)
    monkeypatch.setenv("RAY_BACKEND_LOG_LEVEL", "debug")
    with ray_cluster.connected("head:6379") as ray:
        assert ray is fake
    assert os.environ["RAY_USAGE_STATS_ENABLED"] == "0"
    assert os.environ["RAY_BACKEND_LOG_LEVEL"] == "debug"


# -- how many actors -------------------------------------------------------------


def test_the_loopback_cluster_gets_one_actor_per_node_and_cpu_left_for_reads():
    plan = ray_cluster.plan_actors({DRIVER: 1, OTHER: 1}, DRIVER)
    assert (plan.actor_cpus, plan.threads, plan.size) == (0.75, 1, 2)
    assert plan.per_node == {DRIVER: 1, OTHER: 1}


def test_big_nodes_get_four_thread_actors_as_many_as_fit():
    plan = ray_cluster.plan_actors({DRIVER: 16, OTHER: 16, "gpu-less-tiny": 0}, DRIVER)
    assert (plan.actor_cpus, plan.threads) == (4, 4)
    assert plan.per_node == {DRIVER: 3, OTHER: 4}   # the driver's node keeps 0.25 for reads


def test_a_small_node_sizes_the_actors_of_all():
    plan = ray_cluster.plan_actors({DRIVER: 8, OTHER: 2}, DRIVER)
    assert plan.actor_cpus == 2 and plan.per_node == {DRIVER: 3, OTHER: 1}


def test_a_driver_node_without_cpu_cannot_read():
    with pytest.raises(VergeMLError, match="no CPU for reading"):
        ray_cluster.plan_actors({DRIVER: 0, OTHER: 8}, DRIVER)


def test_a_cluster_without_free_cpu_is_an_error():
    with pytest.raises(VergeMLError, match="no node with a free CPU"):
        ray_cluster.plan_actors({DRIVER: 0.5}, DRIVER)


# -- the pixels the actors compute (same code path as the local engine) -------------------


def augmented(root):
    ops = [{"op": "augment", "variants": 2}, {"op": "random-crop", "width": 10, "height": 10}] + BASE
    return load_dataset(make_env(image_project(root), data={"preprocess": ops}), progress=False)


def every_sample(dataset):
    return [s for split in ("train", "val", "test") for s in dataset.samples(split)]


@pytest.mark.parametrize("make", [augmented, lambda root: load_dataset(
    make_env(mnist_project(root, train=20, test=5), data={"input": {"type": "mnist"}}),
    progress=False)], ids=["files-with-random-ops", "mnist"])
def test_shipped_processing_gives_the_local_pixels(tmp_path, make):
    import pickle
    dataset = make(tmp_path)
    processing = pickle.loads(pickle.dumps(dataset.processing))   # as a worker gets it
    for sample in every_sample(dataset):
        shipped = processing.array(dataset.read_bytes(sample), sample.relpath, sample.split,
                                   sample.variant, 32, "aspect-fill")
        np.testing.assert_array_equal(shipped, dataset.load_array(sample, 32, "aspect-fill"))


def test_rows_name_files_or_carry_the_image(tmp_path):
    files = augmented(tmp_path / "files")
    rows, reads = ray_engine.sample_rows(files, every_sample(files)[:3])
    assert reads and [r["index"] for r in rows] == [0, 1, 2]
    assert rows[0]["file"] == every_sample(files)[0].file and "data" not in rows[0]
    mnist = load_dataset(make_env(mnist_project(tmp_path / "m", train=20, test=5),
                                  data={"input": {"type": "mnist"}}), progress=False)
    rows, reads = ray_engine.sample_rows(mnist, every_sample(mnist)[:2])
    assert not reads and rows[1]["data"].startswith(b"\x89PNG") and "file" not in rows[1]


# -- what comes back ---------------------------------------------------------------


def block(count=3, width=4, **override):
    columns = {"index": np.arange(count), "features": np.ones((count, width), np.float32),
               "node": np.array(["n"] * count), "pid": np.full(count, 7)}
    return {**columns, **override}


def test_a_whole_batch_is_accepted():
    batch = ray_engine.checked_batch(block(), count=3)
    assert batch.indices.tolist() == [0, 1, 2] and batch.features.shape == (3, 4)


@pytest.mark.parametrize("override,width,message", [
    ({"features": np.ones((2, 4), np.float32)}, None, "incomplete batch"),
    ({"index": np.array([0, 1, 5])}, None, "not sent"),
    ({}, 8, "length 4, earlier batches had 8"),
])
def test_a_partial_or_foreign_batch_is_refused(override, width, message):
    with pytest.raises(VergeMLError, match=message):
        ray_engine.checked_batch(block(**override), count=3, width=width)


def test_a_workers_own_error_reaches_the_user_unchanged():
    original = VergeMLError("cats/1.png changed while running; run the command again")
    wrapped = RuntimeError("ray::MapWorker(...) failed\nTraceback ...")
    wrapped.cause = original
    outer = RuntimeError("execution failed")
    outer.__cause__ = wrapped
    assert ray_engine.worker_error(outer) is original


def test_any_other_failure_is_one_line():
    error = ray_engine.worker_error(RuntimeError("The actor died unexpectedly\ndetails ..."))
    assert error.message == ("feature extraction on the Ray cluster failed: RuntimeError: "
                             "The actor died unexpectedly")


# -- dispatch from the feature cache ---------------------------------------------------


class FakeExtractor:
    key, runtime, size = "0123456789abcdef", "tensorflow", 8

    def iter_features(self, *args, **kwargs):
        raise AssertionError("the local engine ran")


def test_ray_results_go_into_the_local_cache_under_the_local_keys(tmp_path, monkeypatch):
    dataset = augmented(tmp_path)
    samples = every_sample(dataset)
    calls = []

    def fake_iter_features(ds, extractor, missing, resize, address):
        calls.append((len(missing), resize, address))
        yield np.arange(len(missing)), np.arange(len(missing) * 2, dtype=np.float32).reshape(-1, 2)
    monkeypatch.setattr(ray_cluster, "require_ray", lambda: None)
    monkeypatch.setattr(ray_engine, "iter_features", fake_iter_features)
    settings = {"engine": "ray", "ray-address": "head:6379"}
    with Cache("disk", tmp_path / "cache") as cache:
        vectors = feature_cache.sample_features(dataset, FakeExtractor(), samples, "fill", cache,
                                                settings=settings, progress=False)
    unique = list({s.key: s for s in samples}.values())
    assert calls == [(len(unique), "fill", "head:6379")]
    stage = feature_cache.feature_stage(FakeExtractor(), "fill")
    assert stage == "features:0123456789abcdef:fill"   # the local engine's stage
    with Cache("disk", tmp_path / "cache") as cache:
        stored = cache.get_many(stage, [s.key for s in unique])
    for index, sample in enumerate(unique):
        assert stored[sample.key].tolist() == [2 * index, 2 * index + 1] == vectors[sample.key].tolist()


def test_engine_ray_without_the_extra_fails_before_extracting(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "ray" else real(name, *a))
    dataset = augmented(tmp_path)
    with Cache("disk", tmp_path / "cache") as cache, pytest.raises(VergeMLError, match=r"vergeml\[ray\]"):
        feature_cache.sample_features(dataset, FakeExtractor(), every_sample(dataset), "fill",
                                      cache, settings={"engine": "ray"}, progress=False)
