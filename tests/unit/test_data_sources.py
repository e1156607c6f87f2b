"""Data sources: which files are samples, labels, and clear errors."""

import pytest

from tests.unit.test_data_helpers import make_env, image_project, write_image
from vergeml.plugins import registry as plugins
from vergeml.data import load_dataset
from vergeml.data.data_section import parse_data_config
from vergeml.data.sources import ImageSource, LabeledImageSource
from vergeml.errors import ConfigError, VergeMLError


def test_labeled_scan_is_recursive_and_skips_hidden_and_non_images(tmp_path, capsys):
    samples = tmp_path / "samples"
    write_image(samples / "cat" / "a.jpg")
    write_image(samples / "cat" / "deep" / "b.png")
    write_image(samples / "cat" / ".hidden.png")
    write_image(samples / "cat" / ".thumbs" / "c.png")
    write_image(samples / "dog" / "d.PNG", fmt="PNG")
    (samples / "dog" / "notes.txt").write_text("not an image")
    write_image(samples / ".git" / "x.png")
    write_image(samples / "stray.png")
    (samples / "meta.csv").write_text("a,b")
    found = LabeledImageSource().scan(samples)
    assert found.labels == ["cat", "dog"]
    assert found.files == [("cat/a.jpg", "cat"), ("cat/deep/b.png", "cat"), ("dog/d.PNG", "dog")]
    warned = capsys.readouterr().err
    assert "stray.png" in warned and "meta.csv" not in warned


def test_missing_samples_dir(tmp_path):
    with pytest.raises(VergeMLError, match="samples directory not found"):
        LabeledImageSource().scan(tmp_path / "samples")


def test_no_class_folders(tmp_path):
    write_image(tmp_path / "samples" / "a.png")
    with pytest.raises(VergeMLError, match="no labels found"):
        LabeledImageSource().scan(tmp_path / "samples")


def test_empty_class_folder(tmp_path):
    image_project(tmp_path)
    (tmp_path / "samples" / "bird").mkdir()
    with pytest.raises(VergeMLError, match="no images in class folder.*bird"):
        load_dataset(make_env(tmp_path))


def test_single_class_is_an_error(tmp_path):
    image_project(tmp_path, classes=("cat",))
    with pytest.raises(VergeMLError, match="only one class found"):
        load_dataset(make_env(tmp_path))


def test_unlabeled_source_with_patterns(tmp_path):
    samples = tmp_path / "samples"
    write_image(samples / "a.jpg")
    write_image(samples / "sub" / "b.png")
    write_image(samples / ".hidden" / "c.png")
    assert [f for f, _ in ImageSource().scan(samples).files] == ["a.jpg", "sub/b.png"]
    only_png = ImageSource(**{"input-patterns": ["**/*.png"]})
    assert only_png.scan(samples).files == [("sub/b.png", None)]
    with pytest.raises(VergeMLError, match="no images found"):
        ImageSource(**{"input-patterns": ["*.gif"]}).scan(samples)


def test_unlabeled_dataset(tmp_path):
    for i in range(10):
        write_image(tmp_path / "samples" / f"{i}.png", seed=i)
    ds = load_dataset(make_env(tmp_path, data={"input": {"type": "image"}}))
    assert ds.labels == []
    sample = (ds.samples("train") + ds.samples("val"))[0]
    assert sample.label is None and sample.label_index == -1


def test_oversample_copies_training_samples_of_a_class(tmp_path):
    image_project(tmp_path, per_class=10)
    env = make_env(tmp_path, data={"input": {"type": "labeled-image", "oversample": {"cat": 3}}},
                   val_split="0", test_split="0")
    ds = load_dataset(env)
    labels = [s.label for s in ds.samples("train")]
    assert labels.count("cat") == 30 and labels.count("dog") == 10
    with pytest.raises(ConfigError, match="oversample.cat"):
        parse_data_config({"input": {"type": "labeled-image", "oversample": {"cat": 0}}})


def test_data_section_errors_are_located():
    lines = {"data.input.type": ("vergeml.yaml", 4), "data.inputs": ("vergeml.yaml", 2)}
    with pytest.raises(ConfigError, match="vergeml.yaml:4: .*Did you mean 'labeled-image'"):
        parse_data_config({"input": {"type": "labeled-imag"}}, lines)
    with pytest.raises(ConfigError, match="vergeml.yaml:2: unknown option data.inputs.*'input'"):
        parse_data_config({"inputs": "image"}, lines)
    with pytest.raises(ConfigError, match="data.cache"):
        parse_data_config({"cache": "dsk"})
    assert parse_data_config("image").source.name == "image"
    assert parse_data_config(None).source.name == "labeled-image"


def test_sources_are_registered_plugins():
    assert plugins.load(plugins.SOURCES, "labeled-image") is LabeledImageSource
    assert plugins.load(plugins.SOURCES, "image") is ImageSource
    for cls in (LabeledImageSource, ImageSource):
        assert cls.name and cls.description and isinstance(cls.options, tuple)


def test_oversample_accepts_int_class_names_and_rejects_unknown_classes(tmp_path):
    image_project(tmp_path, classes=("0", "1"), per_class=4)
    env = make_env(tmp_path, data={"input": {"type": "labeled-image", "oversample": {0: 2}}},
                   val_split="0", test_split="0")
    labels = [s.label for s in load_dataset(env).samples("train")]
    assert labels.count("0") == 8 and labels.count("1") == 4
    env = make_env(tmp_path, data={"input": {"type": "labeled-image", "oversample": {"O": 2}}})
    with pytest.raises(ConfigError, match="oversample: no class named 'O'"):
        load_dataset(env)


def test_source_option_errors_name_the_option_once():
    with pytest.raises(ConfigError) as info:
        parse_data_config({"input": {"type": "labeled-image", "oversample": {"cat": 0}}})
    assert info.value.message.count("data.input") == 1


def test_input_patterns_must_be_relative(tmp_path):
    for pattern in ("/abs/*.jpg", ""):
        with pytest.raises(ConfigError, match="input-patterns: .* relative to the samples dir"):
            parse_data_config({"input": {"type": "image", "input-patterns": [pattern]}})


def test_unlabeled_source_with_only_unreadable_images_is_an_error(tmp_path):
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "a.png").write_text("not a png")
    with pytest.raises(VergeMLError, match="no readable images left"):
        load_dataset(make_env(tmp_path, data={"input": {"type": "image"}}), skip_bad=True)
