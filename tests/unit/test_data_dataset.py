"""load_dataset and the cache together: the invalidation matrix, bad files, crashes
(a build killed in a child process: tests/e2e/test_data_dataset.py)."""
import os

import numpy as np
import pytest
from PIL import Image

from tests.unit.test_data_helpers import (BASE, CROP, FLIP, OLD, RESIZE, STAGE,
                                          age, assert_no_stale_hit, build, decodes, every,
                                          image_project, make_env, project, reads,
                                          write_image)  # (decodes, project, reads: fixtures)
from vergeml.data import fingerprint, images, load_dataset
from vergeml.data.cache import input_stage
from vergeml.errors import VergeMLError


def edit(path):
    pixels = np.asarray(Image.open(path).convert("RGB"))
    write_image(path, 255 - pixels)
    os.utime(path, (OLD + 10, OLD + 10))


def add(project):
    write_image(project / "samples" / "3" / "new.png", seed=7, size=(8, 8))
    age(project / "samples" / "3")


def remove(project):
    (project / "samples" / "0" / "0.png").unlink()


def rename(project):
    os.rename(project / "samples" / "0" / "0.png", project / "samples" / "0" / "renamed.png")


@pytest.mark.parametrize("change,expect", [
    # change to the files -> (hit delta, new, stale, decodes, files read)
    (lambda p: None, (0, 0, 0, 0, 0)),
    (lambda p: edit(p / "samples" / "0" / "0.png"), (-1, 1, 1, 2, 1)),
    (add, (0, 1, 0, 2, 1)),
    (remove, (-1, 0, 1, 0, 0)),
])
def test_file_changes_rebuild_only_what_changed(project, decodes, reads, change, expect):
    env = make_env(project, data={"preprocess": BASE})
    _, first, _ = build(env)
    total = first["new"]
    change(project)
    decodes.calls = reads.calls = 0
    ds, stats, found = build(env)
    hit_delta, new, stale, decoded, read = expect
    assert stats == {"hit": total + hit_delta, "new": new, "stale": stale}
    assert (decodes.calls, reads.calls) == (decoded, read)
    assert_no_stale_hit(ds, found)


def test_rename_reuses_entries_when_ops_are_deterministic(project, decodes, reads):
    env = make_env(project, data={"preprocess": [RESIZE, CROP]})
    _, first, _ = build(env)
    rename(project)
    decodes.calls = reads.calls = 0
    ds, stats, found = build(env)
    assert stats == {"hit": first["new"], "new": 0, "stale": 0}
    assert (decodes.calls, reads.calls) == (0, 1)   # read to digest it; never decoded
    assert_no_stale_hit(ds, found)


def test_rename_with_random_ops_rebuilds_exactly_that_training_file(project, decodes):
    """Random ops of a training sample are seeded by its path: a renamed training file
    gets new augmentations, so its entry (and only it) is rebuilt."""
    env = make_env(project, data={"preprocess": BASE})
    first_ds, first, _ = build(env)
    rename(project)
    decodes.calls = 0
    ds, stats, found = build(env)
    before = {s.relpath: s.split for s in every(first_ds)}
    after = {s.relpath: s.split for s in every(ds)}
    assert before["0/0.png"] == after["0/renamed.png"] == "train"
    assert stats == {"hit": first["new"] - 1, "new": 1, "stale": 1}
    assert decodes.calls == 1
    assert_no_stale_hit(ds, found)


@pytest.mark.parametrize("after", [
    [dict(RESIZE, width=14), CROP, FLIP], [dict(RESIZE, height=11), CROP, FLIP],
    [dict(RESIZE, method="nearest"), CROP, FLIP], [dict(RESIZE, mode="aspect-fit"), CROP, FLIP],
    [dict(RESIZE, channels=1), CROP, FLIP], [RESIZE, dict(CROP, width=9), FLIP],
    [RESIZE, dict(CROP, position="top-left"), FLIP],
    [RESIZE, dict(CROP, x=1, y=2), FLIP], [RESIZE, CROP, dict(FLIP, chance=0.7)],
    [RESIZE, CROP, {"op": "flip-vertical", "chance": 0.5}], [RESIZE, CROP, FLIP, {"op": "grayscale"}],
    [RESIZE, {"op": "random-crop", "width": 10, "height": 10}, FLIP], [RESIZE, FLIP, CROP],
])
def test_any_option_change_rebuilds_everything(project, decodes, after):
    _, first, _ = build(make_env(project, data={"preprocess": BASE}))
    decodes.calls = 0
    ds, stats, found = build(make_env(project, data={"preprocess": after}))
    total = first["new"]
    assert stats == {"hit": 0, "new": total, "stale": total}
    assert decodes.calls == total
    assert_no_stale_hit(ds, found)


def test_augment_without_random_ops_shares_entries(project):
    _, first, _ = build(make_env(project, data={"preprocess": [RESIZE]}))
    _, stats, _ = build(make_env(project, data={"preprocess": [{"op": "augment", "variants": 1}, RESIZE]}))
    assert stats["new"] == 0 and stats["stale"] == 0
    _, stats, _ = build(make_env(project, data={"preprocess": [{"op": "augment", "variants": 3}, RESIZE]}))
    assert stats["new"] == 0 and stats["stale"] == 0


def test_more_variants_build_only_the_new_variants(project):
    ops = [{"op": "augment", "variants": 2}] + BASE
    ds, first, _ = build(make_env(project, data={"preprocess": ops}))
    ops[0] = {"op": "augment", "variants": 3}
    ds, stats, found = build(make_env(project, data={"preprocess": ops}))
    train_files = len({s.relpath for s in ds.samples("train")})
    assert stats == {"hit": first["new"], "new": train_files, "stale": 0}
    assert_no_stale_hit(ds, found)


def test_seed_change(project, decodes):
    first_ds, first, _ = build(make_env(project, data={"preprocess": BASE}))
    ds, stats, found = build(make_env(project, data={"preprocess": BASE}, random_seed=7))
    before = {s.relpath: s.split for s in every(first_ds)}
    kept_eval = sum(1 for s in every(ds) if s.split != "train" and before[s.relpath] != "train")
    assert stats["hit"] == kept_eval and stats["new"] == first["new"] - kept_eval
    assert first_ds.fingerprint != ds.fingerprint
    assert_no_stale_hit(ds, found)
    # without random operations the seed only moves samples between splits
    build(make_env(project, data={"preprocess": [RESIZE]}))
    _, stats, _ = build(make_env(project, data={"preprocess": [RESIZE]}, random_seed=8))
    assert stats["new"] == 0


def test_fingerprint_tracks_inputs(project):
    env = make_env(project, data={"preprocess": BASE})
    one, two = load_dataset(env), load_dataset(env)
    assert one.fingerprint == two.fingerprint and len(one.fingerprint) == 64
    assert load_dataset(make_env(project, data={"preprocess": BASE}, val_split="20%")).fingerprint \
        != one.fingerprint
    assert load_dataset(make_env(project, data={"preprocess": BASE[:2]})).fingerprint != one.fingerprint
    edit(project / "samples" / "0" / "0.png")
    assert load_dataset(env).fingerprint != one.fingerprint


def test_api_shapes(project):
    ds = load_dataset(make_env(project, data={"preprocess": [RESIZE]}))
    assert ds.labels == sorted(ds.labels) and len(ds.labels) == 10
    sizes = ds.split_sizes()
    assert sum(sizes.values()) == 40 and set(sizes) == {"train", "val", "test"}
    sample = ds.samples("train")[0]
    assert sample.relpath == f"{sample.label}/{sample.path.name}" and sample.path.is_absolute()
    assert ds.labels[sample.label_index] == sample.label and sample.split == "train"
    arr = ds.load_array(sample)
    assert arr.dtype == np.uint8 and arr.shape == (12, 12, 3)
    assert ds.load_array(sample, 20, "aspect-fit").shape == (20, 20, 3)
    assert ds.summary() == (f"{sizes['train']} train, {sizes['val']} val, {sizes['test']} test "
                            "samples, 10 labels")


def test_cache_input_modes(project, decodes):
    env = make_env(project, cache="disk-in")
    ds = load_dataset(env)
    stage = input_stage(8, "fill")
    for _ in range(2):
        with ds.open_cache() as cache:
            decodes.calls = 0
            arrays = [ds.load_array(s, 8, cache=cache) for s in every(ds)]
    assert decodes.calls == 0 and cache.stats(stage)["hit"] == len(arrays)
    assert ds.open_cache().where(STAGE) is None


def test_cache_none_writes_nothing(tmp_path):
    project = image_project(tmp_path / "p")
    ds = load_dataset(make_env(project, cache="none"))
    with ds.open_cache() as cache:
        cache.put(STAGE, "k", np.zeros(3))
    assert not (project / ".cache").exists()


def test_data_cache_setting_applies_unless_overridden(project):
    assert load_dataset(make_env(project, data={"cache": "mem"})).cache_mode() == "mem"
    assert load_dataset(make_env(project, data={"cache": "mem"}, cache="disk")).cache_mode() == "disk"


# -- bad files --------------------------------------------------------------------

def add_bad_files(project):
    (project / "samples" / "1" / "text.png").write_text("I am not a PNG")
    good = (project / "samples" / "2" / "2.png").read_bytes()
    (project / "samples" / "2" / "cut.png").write_bytes(good[: len(good) // 2])
    (project / "samples" / "3" / "empty.jpg").write_bytes(b"")
    age(project)


def test_bad_files_stop_before_training(project):
    add_bad_files(project)
    with pytest.raises(VergeMLError) as info:
        load_dataset(make_env(project))
    message = info.value.message
    assert "3 unreadable image(s)" in message
    assert "1/text.png: not an image" in message and "2/cut.png" in message and "3/empty.jpg" in message
    assert "--skip-bad-files" in info.value.hint


def test_skip_bad_files_warns_and_remembers(project, decodes, capsys):
    add_bad_files(project)
    env = make_env(project)
    ds = load_dataset(env, skip_bad=True)
    warned = capsys.readouterr().err
    assert "skipping 3 unreadable image(s)" in warned
    assert len(every(ds)) == 40
    assert sorted(name for name, _ in ds.bad_files) == ["1/text.png", "2/cut.png", "3/empty.jpg"]
    decodes.calls = 0
    load_dataset(env, skip_bad=True)
    assert decodes.calls == 0  # known-bad and known-good files are not decoded again
    with pytest.raises(VergeMLError):
        load_dataset(env)


def test_many_bad_files_are_listed_briefly(project):
    for i in range(14):
        (project / "samples" / "4" / f"bad{i:02}.jpg").write_bytes(b"junk")
    with pytest.raises(VergeMLError, match=r"14 unreadable image\(s\).*\(and 4 more\)"):
        load_dataset(make_env(project))


def test_interrupted_check_resumes(tmp_path, monkeypatch, decodes):
    project = image_project(tmp_path / "p", per_class=60, size=(6, 6))
    monkeypatch.setattr(fingerprint, "WRITE_BATCH", 10)
    original, calls = images.verify_image, []

    def flaky(data, path="<bytes>"):
        calls.append(path)
        if len(calls) == 70:
            raise KeyboardInterrupt
        return original(data, path)
    monkeypatch.setattr(images, "verify_image", flaky)
    with pytest.raises(KeyboardInterrupt):
        load_dataset(make_env(project))
    monkeypatch.setattr(images, "verify_image", original)
    decodes.calls = 0
    ds = load_dataset(make_env(project))
    assert len(every(ds)) == 120 and 0 < decodes.calls <= 120 - 60


def test_file_edited_during_a_run_is_not_cached_under_its_old_key(project):
    ds = load_dataset(make_env(project))
    sample = ds.samples("train")[0]
    edit(sample.path)
    with pytest.raises(VergeMLError, match="changed while running"):
        ds.load_array(sample)


def test_load_array_is_thread_safe(project):
    from concurrent.futures import ThreadPoolExecutor
    ds = load_dataset(make_env(project, data={"preprocess": [{"op": "augment", "variants": 2}] + BASE},
                               cache="disk-in"))
    samples = every(ds)
    expected = [ds.load_array(s, 8) for s in samples]
    with ds.open_cache() as cache, ThreadPoolExecutor(4) as pool:
        for _ in range(2):   # cold, then from the input cache
            got = list(pool.map(lambda s: ds.load_array(s, 8, cache=cache), samples))
            assert all((a == b).all() for a, b in zip(got, expected))


def test_command_line_cache_mode_beats_the_data_section(tmp_path):
    """--cache=auto typed on the command line wins over data: cache: none."""
    from vergeml.settings.project_settings import GLOBAL_OPTIONS, ProjectFile
    from vergeml.data.dataset import _cache_mode
    from vergeml.data.data_section import parse_data_config
    from vergeml.settings.environment import Environment
    config = parse_data_config({"cache": "none"})
    typed = Environment(tmp_path, ProjectFile(), GLOBAL_OPTIONS.resolve({"cache": "auto"}, {}))
    untyped = Environment(tmp_path, ProjectFile(), GLOBAL_OPTIONS.resolve({}, {}))
    assert _cache_mode(typed, config) == "auto"
    assert _cache_mode(untyped, config) == "none"
    assert _cache_mode(untyped, parse_data_config({})) == "auto"
