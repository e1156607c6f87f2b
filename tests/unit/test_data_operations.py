"""Preprocessing operations: each op, YAML validation, seeding, train-only augmentation."""
import random

import numpy as np
import pytest
from PIL import Image

from tests.unit.test_data_helpers import image_project, make_env
from vergeml.plugins import registry as plugins
from vergeml.settings.project_settings import load_project_file
from vergeml.data import load_dataset
from vergeml.data.operations import (BUILTIN, RGB, Augment, Crop, FlipHorizontal, FlipVertical,
                                     Grayscale, OperationError, RandomCrop, Resize,
                                     parse_operations)
from vergeml.errors import ConfigError, VergeMLError


def gradient(width=40, height=30):
    """An image whose pixels tell where they came from: R = x, G = y."""
    x, y = np.meshgrid(np.arange(width), np.arange(height))
    return Image.fromarray(np.stack([x, y, np.zeros_like(x)], -1).astype(np.uint8))


def test_all_operations_registered_with_declarations():
    assert set(plugins.names(plugins.OPERATIONS)) >= set(BUILTIN)
    for name, cls in BUILTIN.items():
        assert plugins.load(plugins.OPERATIONS, name) is cls
        assert cls.description and isinstance(cls.options, tuple)


@pytest.mark.parametrize("mode", ["fill", "aspect-fill", "aspect-fit"])
@pytest.mark.parametrize("method", ["nearest", "bilinear", "antialias"])
def test_resize(mode, method):
    out = Resize(width=12, height=8, mode=mode, method=method).apply(gradient(), None)
    assert out.size == (12, 8) and out.mode == "RGB"


def test_resize_channels_one_is_gray_rgb():
    arr = np.asarray(Resize(width=8, height=8, channels=1).apply(gradient(), None))
    assert arr.shape == (8, 8, 3) and (arr[..., 0] == arr[..., 2]).all()


@pytest.mark.parametrize("position,corner", [("top-left", (0, 0)), ("top-right", (30, 0)),
                                             ("bottom-left", (0, 20)), ("bottom-right", (30, 20)),
                                             ("center", (15, 10))])
def test_crop_positions(position, corner):
    out = np.asarray(Crop(width=10, height=10, position=position).apply(gradient(), None))
    assert out.shape == (10, 10, 3) and tuple(out[0, 0, :2]) == corner


def test_crop_at_xy_and_errors():
    out = np.asarray(Crop(width=5, height=5, x=3, y=4).apply(gradient(), None))
    assert tuple(out[0, 0, :2]) == (3, 4)
    with pytest.raises(OperationError, match="larger than the image"):
        Crop(width=50, height=5).apply(gradient(), None)
    with pytest.raises(OperationError, match="does not fit"):
        Crop(width=10, height=10, x=35, y=0).apply(gradient(), None)
    with pytest.raises(ConfigError, match="both x and y"):
        Crop(width=5, height=5, x=3)


def test_random_crop_is_seeded_and_centred_without_rng():
    crop = RandomCrop(width=10, height=10)
    corners = {tuple(np.asarray(crop.apply(gradient(), random.Random(f"42:a.png:{v}")))[0, 0, :2])
               for v in range(20)}
    assert len(corners) > 5
    again = np.asarray(crop.apply(gradient(), random.Random("42:a.png:3")))
    assert (again == np.asarray(crop.apply(gradient(), random.Random("42:a.png:3")))).all()
    assert tuple(np.asarray(crop.apply(gradient(), None))[0, 0, :2]) == (15, 10)
    assert crop.random


@pytest.mark.parametrize("cls,axis", [(FlipHorizontal, 1), (FlipVertical, 0)])
def test_flips(cls, axis):
    img = gradient()
    flipped = np.asarray(cls().apply(img, None))
    assert (flipped == np.flip(np.asarray(img), axis)).all()
    assert not cls().random and cls(chance=0.5).random
    half = cls(chance=0.5)
    results = [(np.asarray(half.apply(img, random.Random(i))) == flipped).all() for i in range(40)]
    assert 5 < sum(results) < 35
    assert (np.asarray(half.apply(img, None)) == np.asarray(img)).all()  # val/test: no random flip
    assert (np.asarray(cls(chance=0.0).apply(img, random.Random(1))) == np.asarray(img)).all()


def test_grayscale_stays_three_channel():
    out = Grayscale().apply(gradient(), None)
    arr = np.asarray(out)
    assert out.mode == "RGB" and arr.shape == (30, 40, 3)
    assert (arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all()


def test_rgb_and_augment_do_not_change_pixels():
    img = gradient()
    assert (np.asarray(RGB().apply(img, None)) == np.asarray(img)).all()
    assert Augment(variants=3).apply(img, None) is img and Augment(variants=3).variants == 3


def test_parse_operations_from_yaml(tmp_path):
    (tmp_path / "vergeml.yaml").write_text(
        "data:\n  preprocess:\n    - op: resize\n      width: 64\n      height: 32\n"
        "    - op: flip-horizontal\n      chance: 0.5\n")
    project = load_project_file(tmp_path / "vergeml.yaml")
    ops = parse_operations(project.data["data"]["preprocess"], project.lines)
    assert [type(op) for op in ops] == [Resize, FlipHorizontal]
    assert ops[0]["width"] == 64 and ops[0]["mode"] == "fill" and ops[1]["chance"] == 0.5


# excerpt: the line of vergeml.yaml and a caret under the bad value, or under the unknown key.
@pytest.mark.parametrize("yaml_text,message,excerpt", [
    ("    - op: resiz\n      width: 4\n", r"vergeml.yaml:3:11: data.preprocess.0.op: unknown operation 'resiz'. Did you mean 'resize'\?",
     ("    - op: resiz", " " * 10 + "^")),
    ("    - op: resize\n      width: 0\n      height: 4\n", r"vergeml.yaml:4:14: data.preprocess.0.width: expected an integer > 0, got 0",
     ("      width: 0", " " * 13 + "^")),
    # A missing option: the caret is under the operation's name.
    ("    - op: resize\n      width: 4\n", r"vergeml.yaml:3:11: data.preprocess.0: resize needs height",
     ("    - op: resize", " " * 10 + "^")),
    ("    - op: resize\n      width: 4\n      height: 4\n      mode: cover\n", r"vergeml.yaml:6:13: data.preprocess.0.mode: expected one of fill",
     ("      mode: cover", " " * 12 + "^")),
    ("    - op: crop\n      width: 4\n      height: 4\n      widht: 3\n", r"vergeml.yaml:6:7: unknown option data.preprocess.0.widht. Did you mean 'width'\?",
     ("      widht: 3", " " * 6 + "^")),
    # A typo of a required option: the suggestion, not "needs width".
    ("    - op: resize\n      widht: 4\n      height: 4\n", r"vergeml.yaml:4:7: unknown option data.preprocess.0.widht. Did you mean 'width'\?",
     ("      widht: 4", " " * 6 + "^")),
    ("    - op: flip-vertical\n      chance: 2\n", r"vergeml.yaml:4:15: data.preprocess.0.chance: expected a number between 0 and 1",
     ("      chance: 2", " " * 14 + "^")),
    # No 'op': the caret is under the entry's first key.
    ("    - width: 4\n", r"vergeml.yaml:3:7: data.preprocess.0: missing 'op'",
     ("    - width: 4", " " * 6 + "^")),
    ("    - resize\n", r"data.preprocess.0: expected a mapping", None),
])
def test_operation_errors_are_located(tmp_path, yaml_text, message, excerpt):
    (tmp_path / "vergeml.yaml").write_text("data:\n  preprocess:\n" + yaml_text)
    project = load_project_file(tmp_path / "vergeml.yaml")
    with pytest.raises(ConfigError, match=message) as info:
        parse_operations(project.data["data"]["preprocess"], project.lines)
    if excerpt is not None:
        assert info.value.message.excerpt == excerpt


def test_preprocess_must_be_a_list():
    with pytest.raises(ConfigError, match="expected a list of operations"):
        parse_operations({"op": "resize"})


def test_augmentation_only_touches_the_training_split(tmp_path):
    image_project(tmp_path, per_class=20, size=(20, 20))
    env = make_env(tmp_path, data={"preprocess": [
        {"op": "augment", "variants": 3}, {"op": "random-crop", "width": 10, "height": 10},
        {"op": "flip-horizontal", "chance": 0.5}]}, val_split="20%", test_split="20%")
    ds = load_dataset(env)
    train, val = ds.samples("train"), ds.samples("val")
    assert {s.variant for s in train} == {0, 1, 2} and {s.variant for s in val} == {0}
    assert len(train) == 3 * len({s.relpath for s in train})
    # variants of one training file differ; val samples are a plain centre crop
    first = [s for s in train if s.relpath == train[0].relpath]
    arrays = [ds.load_array(s) for s in first]
    assert len({a.tobytes() for a in arrays}) > 1 and len({s.key for s in first}) == 3
    val_arr = ds.load_array(val[0])
    original = np.asarray(Image.open(val[0].path).convert("RGB"))
    assert (val_arr == original[5:15, 5:15]).all()
    # same seed -> identical augmentation; the key says so too
    again = load_dataset(env)
    assert (again.load_array(again.samples("train")[1]) == ds.load_array(train[1])).all()


def test_operation_error_names_the_file(tmp_path):
    image_project(tmp_path, per_class=5, size=(8, 8))
    ds = load_dataset(make_env(tmp_path, data={"preprocess": [{"op": "crop", "width": 20, "height": 20}]}))
    sample = ds.samples("train")[0]
    with pytest.raises(VergeMLError, match=sample.relpath + ".*larger than the image"):
        ds.load_array(sample)
