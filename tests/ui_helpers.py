"""Shared by the ``ml ui`` tests (no tests here): a synthetic project written as the
real commands write one, without TensorFlow, and the page's app in-process.

:func:`make_ui_project` lays out ``vergeml.yaml``, ``samples/<class>/*.png`` (small
real PNGs) and ``trainings/<name>/`` folders as ``ml train`` leaves them
(``data.yaml`` with name, model, status, hyperparameters, results and a history
with ``phase``; ``checkpoints/labels.txt``; ``stats/test_predictions.npz`` with
``y_true``, ``y_prob`` float32 and ``files`` relative to the samples folder).
:func:`ui_client` wraps :class:`vergeml.services.ui.ui_app.UiApp` in werkzeug's
test client: no server, no subprocess.
"""
import io
import re
from html.parser import HTMLParser

import numpy as np
import yaml

LABELS = ("birds", "cats", "dogs")
TEST_PER_CLASS = 80  # 240 test images: a cell of the right predictions holds more than a page
TRAINING_START = "2026-01-0{}T10:00:00+00:00"

# name -> (test_acc, training_start day, learning_rate, seed of the predictions, grid id)
RUNS = {
    "alpha-run": (0.91, 1, 0.001, 1, None),
    "beta-run": (0.72, 2, 0.01, 2, None),
    "gamma-run": (0.85, 3, 0.001, 3, "g1"),
    "delta-run": (0.65, 4, 0.1, 4, "g1"),
}


def png_bytes(shade=0, size=(8, 8)):
    """A real PNG of one grey shade."""
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", size, (shade % 256, (shade * 7) % 256, (shade * 13) % 256)).save(out, "PNG")
    return out.getvalue()


def write_samples(project, labels=LABELS, per_class=TEST_PER_CLASS):
    """``samples/<label>/<label>-NNN.png``; returns the files relative to ``samples/``."""
    files = []
    for index, label in enumerate(labels):
        folder = project / "samples" / label
        folder.mkdir(parents=True, exist_ok=True)
        for number in range(per_class):
            name = f"{label}-{number:03d}.png"
            (folder / name).write_bytes(png_bytes(index * 60 + number))
            files.append(f"{label}/{name}")
    return files


def fake_predictions(files, labels=LABELS, seed=0, accuracy=0.8):
    """``(y_true, y_prob float32)`` for ``files`` (the class is the folder): about
    ``accuracy`` right, the rest confidently wrong, no ties."""
    rng = np.random.default_rng(seed)
    y_true = np.array([labels.index(f.split("/")[0]) for f in files])
    classes = len(labels)
    predicted = np.where(rng.random(len(files)) < accuracy, y_true,
                         (y_true + rng.integers(1, classes, len(files))) % classes)
    logits = rng.normal(0, 0.3, (len(files), classes))
    logits[np.arange(len(files)), predicted] += 2 + rng.random(len(files))
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y_true, prob.astype(np.float32)


def write_run(trainings, name, labels=LABELS, files=None, seed=0, test_acc=0.9, day=1,
              learning_rate=0.001, grid=None, status="finished", predictions=True):
    """One finished run's folder as ``ml train`` writes it; returns ``(y_true, y_prob)``."""
    folder = trainings / name
    for sub in ("checkpoints", "stats", "plots", "tensorboard"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "checkpoints" / "labels.txt").write_text("\n".join(labels) + "\n", encoding="utf-8")
    history = [{"epoch": e, "phase": "top", "acc": 0.5 + 0.05 * e, "loss": 1.0 / e,
                "val_acc": 0.45 + 0.05 * e, "val_loss": 1.1 / e} for e in range(1, 5)]
    history += [{"epoch": e, "phase": "fine-tune", "acc": 0.7 + 0.03 * e, "loss": 0.5 / e,
                 "val_acc": 0.6 + 0.03 * e, "val_loss": 0.6 / e} for e in range(5, 7)]
    metadata = {
        "name": name, "model": "imagenet", "backbone": "mobilenet", "status": status,
        "error": None,
        "hyperparameters": {"architecture": "mobilenet", "alpha": 0.25, "size": 96,
                            "epochs": 4, "fine_tune_epochs": 2, "batch_size": 32,
                            "learning_rate": learning_rate, "random_seed": 42},
        "results": {"created_at": 1767261600.0 + day, "training_start": TRAINING_START.format(day),
                    "training_end": TRAINING_START.format(day), "epochs_done": 6,
                    "best_epoch": 6, "acc": 0.88, "loss": 0.1, "val_acc": 0.78, "val_loss": 0.1,
                    "test_acc": test_acc, "test_loss": 0.4, "tuned": "fine-tuned",
                    **{f"{label}_{m}": 0.8 for label in labels
                       for m in ("precision", "recall", "f1")}},
        "history": history,
        "data": {"num_test": len(files or ())},
        "versions": {"vergeml": "test", "python": "3"},
    }
    if grid:
        metadata["grid"], metadata["grid_run"] = grid, 1
    (folder / "data.yaml").write_text(yaml.safe_dump(metadata, sort_keys=False), encoding="utf-8")
    if not predictions or files is None:
        return None
    y_true, y_prob = fake_predictions(files, labels, seed)
    np.savez(folder / "stats" / "test_predictions.npz", y_true=y_true, y_prob=y_prob,
             files=np.array(files))
    return y_true, y_prob


def make_ui_project(root, runs=RUNS, per_class=TEST_PER_CLASS):
    """A project under ``root``: ``vergeml.yaml``, the samples and ``runs``.

    Returns:
        ``(project, files, {run name: (y_true, y_prob)})``.
    """
    project = root
    project.mkdir(parents=True, exist_ok=True)
    (project / "vergeml.yaml").write_text("model: imagenet\n", encoding="utf-8")
    files = write_samples(project, per_class=per_class)
    stored = {}
    for name, (acc, day, rate, seed, grid) in runs.items():
        stored[name] = write_run(project / "trainings", name, files=files, seed=seed, test_acc=acc,
                                 day=day, learning_rate=rate, grid=grid)
    return project, files, stored


def ui_context(project, host="127.0.0.1", token=None, load_predictor=None, max_upload=None,
               review="doctor/review.csv"):
    """The :class:`~vergeml.services.ui.ui_context.UiContext` of ``project``, as ``ml ui``
    makes it (``commands/ui.py``)."""
    from vergeml.services.ui.guard import Guard
    from vergeml.services.ui.ui_context import UiContext
    extra = {} if max_upload is None else {"max_upload": max_upload}
    return UiContext(project_dir=str(project), samples_dir=str(project / "samples"),
                     cache_dir=str(project / ".cache"), trainings_dir=str(project / "trainings"),
                     review_path=str(project / review), guard=Guard(host, token),
                     load_predictor=load_predictor, **extra)


def ui_client(ctx):
    """werkzeug's test client over the page's WSGI app."""
    from werkzeug.test import Client

    from vergeml.services.ui.ui_app import UiApp
    return Client(UiApp(ctx))


def csrf_of(html):
    """The CSRF token a page carries (its ``<meta name="csrf-token">``)."""
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert match, html[:500]
    return match.group(1)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and "href" in attrs:
            self.links.append(attrs["href"])


def hrefs(html):
    """Every ``<a href>`` of a page, unescaped, in order."""
    parser = _Links()
    parser.feed(html)
    return parser.links


def gallery_files(html):
    """The file names a gallery page shows (the ``<span class="file">`` of each figure)."""
    import html as html_module
    return [html_module.unescape(f) for f in re.findall(r'<span class="file">([^<]*)</span>', html)]


def table_rows(html, css_class=None):
    """The ``<tr>`` elements of a page (``css_class``: only those with that class), as the
    text of their cells."""
    import html as html_module
    pattern = r'<tr class="{}">(.*?)</tr>'.format(re.escape(css_class)) if css_class \
        else r"<tr[^>]*>(.*?)</tr>"
    return [[html_module.unescape(re.sub(r"<[^>]+>", "", cell))
             for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)]
            for row in re.findall(pattern, html, re.S)]
