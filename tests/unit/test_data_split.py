"""Splits: percentages, counts, directories; stable when images are added."""

import pytest

from tests.unit.test_data_helpers import age, make_env, image_project, write_image
from vergeml.data import load_dataset
from vergeml.data.split import SplitSpec, assign_splits, parse_split
from vergeml.errors import ConfigError, VergeMLError

PCT10 = SplitSpec("percent", 0.1)


def names(n, prefix="img"):
    return [f"c/{prefix}{i}.png" for i in range(n)]


def test_parse_split(tmp_path):
    (tmp_path / "valdir").mkdir()
    assert parse_split("10%", "val-split", tmp_path) == SplitSpec("percent", 0.1)
    assert parse_split("100", "val-split", tmp_path) == SplitSpec("count", 100)
    assert parse_split(5, "val-split", tmp_path) == SplitSpec("count", 5)
    assert parse_split("valdir", "val-split", tmp_path) == SplitSpec("dir", (tmp_path / "valdir").resolve())
    with pytest.raises(ConfigError, match=r"expected a percentage \(10%\), a count \(100\) or a directory, got 0.1"):
        parse_split("0.1", "val-split", tmp_path)
    with pytest.raises(ConfigError, match="up to 100%"):
        parse_split("120%", "test-split", tmp_path)


def test_percentages_are_exact_for_a_fresh_project():
    splits = assign_splits(names(5000), PCT10, SplitSpec("percent", 0.2), seed=42)
    assert (splits.count("val"), splits.count("test")) == (500, 1000)


def test_counts_are_exact():
    splits = assign_splits(names(100), SplitSpec("count", 7), SplitSpec("count", 3), seed=1)
    assert (splits.count("val"), splits.count("test"), splits.count("train")) == (7, 3, 90)


def test_same_seed_same_split_other_seed_other_split():
    assert assign_splits(names(300), PCT10, PCT10, 7) == assign_splits(names(300), PCT10, PCT10, 7)
    assert assign_splits(names(300), PCT10, PCT10, 7) != assign_splits(names(300), PCT10, PCT10, 8)


def test_too_many_samples_requested():
    with pytest.raises(VergeMLError, match="not enough samples"):
        assign_splits(names(10), SplitSpec("count", 8), SplitSpec("count", 5), seed=1)
    with pytest.raises(ConfigError, match="100%"):
        assign_splits(names(10), SplitSpec("percent", 0.5), SplitSpec("percent", 0.5), seed=1)


def test_split_directories(tmp_path):
    image_project(tmp_path, per_class=10)
    for label in ("cat", "dog"):
        write_image(tmp_path / "valset" / label / "v.png", seed=hash(label) % 1000)
    write_image(tmp_path / "samples" / "held" / "cat" / "t.png", seed=5)
    write_image(tmp_path / "samples" / "held" / "dog" / "t.png", seed=6)
    age(tmp_path)
    env = make_env(tmp_path, val_split="valset", test_split="samples/held")
    ds = load_dataset(env)
    assert ds.labels == ["cat", "dog"]
    assert [s.relpath for s in ds.samples("val")] == ["valset/cat/v.png", "valset/dog/v.png"]
    assert [s.relpath for s in ds.samples("test")] == ["held/cat/t.png", "held/dog/t.png"]
    assert ds.split_sizes()["train"] == 20


def test_split_of_existing_samples_survives_new_images(tmp_path):
    image_project(tmp_path, per_class=30)
    first = load_dataset(make_env(tmp_path))
    for i in range(10):
        write_image(tmp_path / "samples" / "cat" / f"new{i}.png", seed=500 + i)
    age(tmp_path)
    second = load_dataset(make_env(tmp_path))
    where = {s.relpath: s.split for split in ("train", "val", "test") for s in second.samples(split)}
    for split in ("train", "val", "test"):
        assert all(where[s.relpath] == split for s in first.samples(split))
    assert first.fingerprint != second.fingerprint


def test_duplicates_across_splits_are_reported(tmp_path, capsys):
    image_project(tmp_path, per_class=20)
    original = (tmp_path / "samples" / "cat" / "0.png").read_bytes()
    for i in range(20):
        (tmp_path / "samples" / "dog" / f"copy{i}.png").write_bytes(original)
    age(tmp_path)
    load_dataset(make_env(tmp_path, val_split="30%", test_split="30%"))
    warned = capsys.readouterr().err
    assert "exact duplicate image(s)" in warned and "more than one split" in warned
