"""The ``augment`` train option: parsing ``name[:strength]`` items (no TensorFlow)."""
import pytest

from vergeml.errors import ConfigError
from vergeml.models.imagenet.training.augment import AUGMENTATIONS, DEFAULT_AUGMENT, LEGACY_AUGMENT, parse_augment


def test_the_module_does_not_import_keras_at_the_top():
    # (The unit guard fails the test when parsing imports TensorFlow or Keras.)
    import vergeml.models.imagenet.training.augment as augment
    assert "keras" not in vars(augment) and "tensorflow" not in vars(augment)
    assert parse_augment(["flip-horizontal"]) == [("flip-horizontal", None)]


def test_plain_names_without_strength():
    assert parse_augment(["flip-horizontal", "flip-vertical"]) == [
        ("flip-horizontal", None), ("flip-vertical", None)]


@pytest.mark.parametrize("name", ["rotate", "zoom", "translate", "contrast", "brightness"])
def test_a_name_alone_gets_its_default_strength(name):
    assert parse_augment([name]) == [(name, AUGMENTATIONS[name].default)]
    assert AUGMENTATIONS[name].default is not None


@pytest.mark.parametrize("item, expected", [
    ("rotate:0.1", ("rotate", 0.1)),
    ("zoom=0.25", ("zoom", 0.25)),
    ("  Translate : 0.2 ", ("translate", 0.2)),
    ("contrast:1", ("contrast", 1.0)),
    ("rotate:", ("rotate", 0.05)),        # an empty strength means the default
])
def test_strengths(item, expected):
    assert parse_augment([item]) == [expected]


def test_yaml_mappings():
    assert parse_augment([{"rotate": 0.2}, "flip-horizontal", {"Zoom": "0.3"}]) == [
        ("rotate", 0.2), ("flip-horizontal", None), ("zoom", 0.3)]


def test_the_default_option_value():
    """auto: the recipe's (expanded by phase 2, tests/unit/test_recipe.py); the old default
    is what runs stored before the recipe resume with."""
    assert DEFAULT_AUGMENT == ("auto",) and parse_augment(DEFAULT_AUGMENT) == []
    assert parse_augment(LEGACY_AUGMENT) == [
        ("flip-horizontal", None), ("rotate", 0.05), ("zoom", 0.1)]


@pytest.mark.parametrize("items", [["none"], ["None"], [], None, ("none",)])
def test_none_means_no_augmentation(items):
    assert parse_augment(items) == []


def test_the_order_is_kept():
    assert [n for n, _ in parse_augment(["zoom", "flip-vertical", "rotate:0.2"])] == [
        "zoom", "flip-vertical", "rotate"]


def test_an_unknown_name_suggests_the_closest():
    with pytest.raises(ConfigError) as info:
        parse_augment(["flip-horizontal", "rotat:0.1"])
    assert "unknown augmentation 'rotat'" in info.value.message
    assert "rotate" in info.value.message.split("'rotat'", 1)[1]   # the did-you-mean
    assert info.value.exit_code == 2
    for name in AUGMENTATIONS:
        assert name in info.value.hint


def test_an_unknown_name_far_from_all_has_no_suggestion_but_the_choices():
    with pytest.raises(ConfigError) as info:
        parse_augment(["sharpen"])
    assert "'sharpen'" in info.value.message
    assert "flip-horizontal" in info.value.hint


@pytest.mark.parametrize("item, fragment", [
    ("rotate:abc", "expected a number"),
    ("rotate:0", "expected a strength in (0, 0.5]"),
    ("rotate:-0.1", "expected a strength in (0, 0.5]"),
    ("rotate:0.6", "expected a strength in (0, 0.5]"),
    ("zoom:0.95", "expected a strength in (0, 0.9]"),
    ("contrast:1.5", "expected a strength in (0, 1.0]"),
])
def test_bad_strengths(item, fragment):
    with pytest.raises(ConfigError) as info:
        parse_augment([item])
    assert fragment in info.value.message
    assert item.split(":")[0] in info.value.message


@pytest.mark.parametrize("item", ["flip-horizontal:0.5", "flip-vertical=1"])
def test_a_flip_takes_no_strength(item):
    with pytest.raises(ConfigError) as info:
        parse_augment([item])
    assert "takes no strength" in info.value.message


def test_the_largest_strength_is_allowed():
    for name, choice in AUGMENTATIONS.items():
        if choice.default is not None:
            assert parse_augment([f"{name}:{choice.limit}"]) == [(name, choice.limit)]
