"""A second model plugin, registered through entry points, is trained, listed,
used for prediction, served over REST and plotted, with nothing in
``commands/`` or ``services/`` knowing about it.

The plugin is a real installed distribution as far as ``importlib.metadata``
can tell: a ``.dist-info`` folder with ``entry_points.txt`` on ``PYTHONPATH``.
It classifies images by their mean colour, without TensorFlow.
"""
import io
import json
import queue
import re
import subprocess
import textwrap
import threading
import urllib.request
import uuid

import pytest
from PIL import Image

from tests.conftest import default_signals, ml_command, run_ml_process

pytestmark = pytest.mark.e2e

PLUGIN = textwrap.dedent('''
    """A model plugin outside vergeml: red or blue, by mean colour."""
    import io
    import numpy as np
    from PIL import Image

    from vergeml.commands.command_base import Command
    from vergeml.commands.predict import PredictCommand
    from vergeml.fileutil import atomic_write_text
    from vergeml.instances import create_instance
    from vergeml.model import Model, Predictor  # the old path, kept as an alias

    LABELS = ["blue", "red"]


    def redness(data):
        pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=float)
        red, blue = pixels[..., 0].mean(), pixels[..., 2].mean()
        return red / (red + blue + 1e-9)


    class TrainCommand(Command):
        name = "train"
        description = "Write a colour classifier instance."

        def run(self, args, env):
            instance = create_instance(env.trainings_dir, "colour", "mean-colour", {"labels": LABELS})
            atomic_write_text(instance.labels_path, "\\n".join(LABELS) + "\\n")
            y_true = np.array([0, 0, 1, 1])
            y_prob = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
            np.savez(instance.predictions_path, y_true=y_true, y_prob=y_prob,
                     files=np.array(["a", "b", "c", "d"]))
            instance.update_results(test_acc=1.0)
            instance.set_status("finished")
            print(f"Trained @{instance.name}")
            return 0


    class ColourPredictor(Predictor):
        size = 8

        def __init__(self, instance):
            self.name = instance.name
            self.labels = instance.labels()

        def predict_images(self, items, top_k=5, **options):
            results = []
            for name, data in items:
                try:
                    red = redness(bytes(data))
                except Exception as err:
                    results.append({"filename": name, "error": str(err)})
                    continue
                results.append({"filename": name, "prediction": self.top([1 - red, red], top_k)})
            return results


    class ColourModel(Model):
        name = "colour"
        description = "Red or blue, by mean colour."

        def commands(self):
            return {"train": TrainCommand, "predict": PredictCommand}

        def predictor(self, instance, settings=None):
            return ColourPredictor(instance)
''')


@pytest.fixture
def plugin_project(tmp_path):
    """A project using the ``colour`` model, with the plugin on PYTHONPATH."""
    site = tmp_path / "site"
    (site / "colour_model").mkdir(parents=True)
    (site / "colour_model" / "__init__.py").write_text(PLUGIN)
    info = site / "colour_model-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: colour-model\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[vergeml.model]\ncolour = colour_model:ColourModel\n")
    project = tmp_path / "proj"
    (project / "samples").mkdir(parents=True)
    (project / "vergeml.yaml").write_text("model: colour\n")
    for colour in ("red", "blue"):
        Image.new("RGB", (16, 16), colour).save(project / f"{colour}.png")
    return project, {"PYTHONPATH": str(site)}


def trained(project, env):
    result = run_ml_process("train", cwd=project, env=env)
    assert result.returncode == 0, result.output
    return re.search(r"Trained @(\S+)", result.stdout).group(1)


def test_a_foreign_model_trains_lists_predicts_and_plots(plugin_project):
    project, env = plugin_project
    name = trained(project, env)
    listed = run_ml_process("list", "--output=json", cwd=project, env=env)
    rows = json.loads(listed.stdout)
    # ml list's model column shows the backbone a plugin records, as for imagenet runs.
    assert [(r["instance"], r["model"], r["status"]) for r in rows] == [(name, "mean-colour", "finished")]
    predicted = run_ml_process(f"@{name}", "predict", "--compact", "red.png", "blue.png",
                               cwd=project, env=env)
    assert predicted.returncode == 0, predicted.output
    assert predicted.stdout.split() == ["red.png", "red", "blue.png", "blue"]
    plotted = run_ml_process(f"@{name}", "plot:roc", cwd=project, env=env)
    assert plotted.returncode == 0, plotted.output
    with Image.open(project / "trainings" / name / "plots" / "roc.png") as plot:
        assert plot.size[0] > 100


def _multipart(name, data):
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_a_foreign_model_is_served_over_rest(plugin_project):
    project, env = plugin_project
    name = trained(project, env)
    from tests.conftest import subprocess_env
    process = subprocess.Popen(ml_command() + [f"@{name}", "run:rest", "--port=0", "--no-browser"],
                               cwd=project, env=subprocess_env(env), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in process.stdout], daemon=True).start()
    try:
        url = None
        while url is None:
            line = lines.get(timeout=60)
            found = re.search(r"on (http://\S+)", line)
            url = found.group(1) if found else None
        buffer = io.BytesIO()
        Image.new("RGB", (16, 16), "red").save(buffer, "PNG")
        body, content_type = _multipart("red.png", buffer.getvalue())
        request = urllib.request.Request(url + "/predict", data=body,
                                         headers={"Content-Type": content_type})
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        assert answer[0]["filename"] == "red.png"
        assert answer[0]["prediction"][0]["label"] == "red"
        with urllib.request.urlopen(url + "/", timeout=30) as response:
            assert f"@{name}".encode() in response.read()
    finally:
        process.terminate()
        process.wait(30)
