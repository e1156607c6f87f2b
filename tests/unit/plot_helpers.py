"""Shared by the plot tests (no tests here): fabricated test predictions, ``ml plot`` in-process."""
import numpy as np
import pytest
import yaml

from vergeml.commands.plot import PlotCommand
from vergeml.settings.environment import Environment

DIGITS = [str(d) for d in range(10)]


def make_predictions(trainings_dir, name, labels, samples=200, seed=0, drop_class=None):
    """An instance folder with labels.txt and stats/test_predictions.npz (no model needed).

    Probabilities are noisy but informative, so AUC is well inside (0.5, 1).
    """
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, len(labels), samples)
    if drop_class is not None:
        y_true[y_true == drop_class] = (drop_class + 1) % len(labels)
    logits = rng.normal(size=(samples, len(labels)))
    logits[np.arange(samples), y_true] += 1.5
    y_prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    folder = trainings_dir / name
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "stats").mkdir()
    (folder / "checkpoints" / "labels.txt").write_text("\n".join(labels) + "\n")
    (folder / "data.yaml").write_text(yaml.safe_dump({
        "name": name, "model": "imagenet", "status": "finished",
        "hyperparameters": {"architecture": "mobilenet", "size": 32, "labels": labels}}))
    np.savez(folder / "stats" / "test_predictions.npz", y_true=y_true,
             y_prob=y_prob.astype(np.float32), files=np.array([f"s{i}.png" for i in range(samples)]))
    return y_true, y_prob.astype(np.float32)


@pytest.fixture
def trainings(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path / "trainings"


def plot(tmp_path, capsys, kind, name, **options):
    """Run ``ml @name plot:<kind>`` in-process; return (stdout lines, stderr)."""
    from vergeml.plugins import registry as plugins
    plugin = plugins.instantiate(plugins.PLOTS, kind) if kind else None
    args = plugin.option_set().resolve(options, None) if plugin else {}
    env = Environment(tmp_path, settings={"trainings-dir": "trainings"}, instance_names=[name],
                      subcommand=kind)
    assert PlotCommand().run(args, env) == 0
    out, err = capsys.readouterr()
    return out.splitlines(), err
