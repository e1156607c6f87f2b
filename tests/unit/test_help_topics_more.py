"""``ml help`` finds the terms and options users look up (issue 30, item 9): l2, auc,
fine-tune, precision; a command option such as ``augment`` (ml train --augment) as
well as the operation of that name."""
import pytest

from tests.unit.test_help import flat, ml_help
from vergeml.cli import glossary


@pytest.mark.parametrize("topic, term, mentions", [
    ("l2", "l2", "--l2"), ("auc", "auc", "plot:roc"), ("fine-tune", "fine-tuning", "--fine-tune-epochs"),
    ("fine_tuning", "fine-tuning", "--fine-tune-layers"), ("precision", "precision", "_precision"),
    ("recall", "precision", "_recall"), ("F1", "precision", "_f1"),
])
def test_terms_users_look_up_are_in_the_glossary(ml_help, topic, term, mentions):
    text = ml_help(topic)
    assert text.splitlines()[0] == term
    assert flat(text[len(term):]) == flat(glossary.GLOSSARY[term]) and mentions in text


def test_augment_shows_the_operation_and_the_train_option(ml_help):
    text = ml_help("augment")
    assert text.startswith("operation: augment")
    option = text.split("Option of ml train:\n", 1)[1]
    assert flat(option).startswith("--augment=<list> Augmentation of phase 2's training images")


def test_a_command_option_is_a_topic(ml_help):
    assert flat(ml_help("early-stopping-delta")).startswith(
        "Option of ml train: --early-stopping-delta=<float> Smallest decrease")
    assert "Option of ml predict:\n" in ml_help("compact")
    text = ml_help("format")  # export, predict, and list --output (alias --format)
    assert all(f"Option of ml {name}:\n" in text for name in ("export", "predict", "list"))


def test_a_glossary_term_that_is_also_an_option_stays_the_glossary(ml_help):
    assert ml_help("dropout").splitlines()[0] == "dropout"
