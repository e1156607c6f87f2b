"""Per-label precision, recall and F1 in the results, and finding them with `ml list`."""
import numpy as np
import pytest
import yaml
from sklearn.metrics import precision_recall_fscore_support

from vergeml.commands.list import ListCommand
from vergeml.settings.project_settings import GLOBAL_OPTIONS
from vergeml.settings.environment import Environment
from vergeml.models.imagenet.training import evaluation
from vergeml.settings.spelling import stored_key

LABELS = ["cat", "dog", "Tabby Cat"]
Y_TRUE = np.array([0, 0, 1, 1, 2, 2, 2, 0])
PROBS = np.array([[.8, .1, .1], [.2, .7, .1], [.1, .8, .1], [.3, .6, .1],
                  [.1, .1, .8], [.6, .2, .2], [.2, .1, .7], [.9, .05, .05]])


def test_every_label_gets_precision_recall_f1_as_sklearn_computes_them():
    metrics = evaluation.test_metrics(Y_TRUE, PROBS, 3, labels=LABELS)
    precision, recall, f1, _ = precision_recall_fscore_support(Y_TRUE, PROBS.argmax(1))
    for i, key in enumerate(("cat", "dog", "tabby_cat")):
        assert metrics[f"{key}_precision"] == pytest.approx(precision[i])
        assert metrics[f"{key}_recall"] == pytest.approx(recall[i])
        assert metrics[f"{key}_f1"] == pytest.approx(f1[i])
    assert {"test_acc", "test_loss", "auc"} <= set(metrics)
    assert all(isinstance(v, float) for v in metrics.values())


def test_no_labels_means_no_per_label_metrics():
    assert set(evaluation.test_metrics(Y_TRUE, PROBS, 3)) == {"test_acc", "test_loss", "auc", "test_ece",
                                                               "balanced_acc", "macro_f1"}


def test_a_label_without_test_samples_gets_none_and_a_never_predicted_one_gets_zero():
    y_true = np.array([0, 0, 1, 1])
    probs = np.array([[.9, .05, .05], [.9, .05, .05], [.9, .05, .05], [.2, .7, .1]])
    metrics = evaluation.test_metrics(y_true, probs, 3, labels=["a", "b", "c"])
    assert not any(k.startswith("c_") for k in metrics)            # no test sample of c
    assert metrics["b_precision"] == 1.0 and metrics["b_recall"] == 0.5
    probs[3] = [.9, .05, .05]                                       # b is never predicted
    metrics = evaluation.test_metrics(y_true, probs, 3, labels=["a", "b", "c"])
    assert metrics["b_precision"] == 0.0 and metrics["b_recall"] == 0.0 and metrics["b_f1"] == 0.0


def test_labels_whose_keys_collide_get_none_with_a_warning(capsys):
    metrics = evaluation.test_metrics(Y_TRUE, PROBS, 3, labels=["a-b", "a_b", "c"])
    assert not any(k.startswith("a_b_") for k in metrics)
    assert "c_precision" in metrics
    err = capsys.readouterr().err
    assert err.startswith("Warning: ") and "a-b, a_b" in err


@pytest.mark.parametrize("typed", ["Tabby Cat-precision", "tabby_cat-precision",
                                   "TABBY-CAT_PRECISION", "tabby  cat_precision"])
def test_stored_key_folds_spaces_so_every_spelling_is_one_key(typed):
    assert stored_key(typed) == "tabby_cat_precision"


def test_option_spellings_are_unchanged():
    assert stored_key("--learning-rate") == "learning_rate" == stored_key("Learning_Rate")


# -- ml list finds what training stores ------------------------------------------------------

@pytest.fixture
def env(tmp_path):
    results = {"training_start": "2026-01-01T10:00:00+00:00",
               **evaluation.test_metrics(Y_TRUE, PROBS, 3, labels=LABELS)}
    poor = {"training_start": "2026-01-01T09:00:00+00:00",
            **evaluation.test_metrics(Y_TRUE, np.roll(PROBS, 1, axis=1), 3, labels=LABELS)}
    for name, res in (("good-tron", results), ("poor-tron", poor)):
        folder = tmp_path / "trainings" / name
        folder.mkdir(parents=True)
        (folder / "data.yaml").write_text(yaml.safe_dump(
            {"name": name, "model": "imagenet", "status": "finished",
             "hyperparameters": {}, "results": res}))
    return Environment(tmp_path, settings=GLOBAL_OPTIONS.resolve({}, {}))


def list_csv(env, capsys, *filters, **options):
    cmd = ListCommand()
    rest, extra = cmd.preparse(list(filters))
    args = cmd.option_set().resolve({"output": "csv", **options}, {})
    args.update(extra)
    assert cmd.run(args, env) == 0
    out, err = capsys.readouterr()
    assert "Warning" not in err
    return [line.split(",") for line in out.splitlines()]


def test_list_columns_and_filters_take_the_original_hyphenated_names(env, capsys):
    good = evaluation.test_metrics(Y_TRUE, PROBS, 3, labels=LABELS)
    rows = list_csv(env, capsys, "cat-precision", "-gt", "0.5",
                    columns="cat-precision,dog-recall,Tabby Cat-f1")
    assert rows[0][1:] == ["cat_precision", "dog_recall", "tabby_cat_f1"]
    assert rows[1:] == [["good-tron", str(good["cat_precision"]), str(good["dog_recall"]),
                         str(good["tabby_cat_f1"])]]


def test_a_label_with_a_space_is_found_unquoted(env, capsys):
    rows = list_csv(env, capsys, "tabby_cat-precision", "-lte", "0.5", columns="tabby-cat-recall")
    assert [r[0] for r in rows] == ["instance", "poor-tron"]
