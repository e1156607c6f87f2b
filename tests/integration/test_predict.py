"""``ml @name predict`` and the Predictor, on a fabricated instance folder.

The fabricated model is Input(32,32,3) -> GlobalAveragePooling2D -> Dense
whose kernel maps each colour channel to one class, so a red image must be
predicted as ``red``: the assertions check real predictions, not just shapes.
"""
import json
import os
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from vergeml.settings.environment import Environment
from vergeml.errors import VergeMLError

from tests.integration.predict_helpers import COLOURS, make_instance


def colour_image(path, colour, size=(40, 30), fmt=None):
    """Write a solid-colour image file."""
    Image.new("RGB", size, COLOURS[colour]).save(path, format=fmt)
    return str(path)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    make_instance(root / "trainings")
    images = root / "images"
    (images / "sub").mkdir(parents=True)
    colour_image(images / "red.png", "red")
    colour_image(images / "sub" / "green.jpg", "green", fmt="JPEG")
    colour_image(images / "blue.bmp", "blue")
    (images / "notes.txt").write_text("not an image, and not an image extension")
    return root


def run_predict(project, capsys, *files, **options):
    from vergeml.models.imagenet.commands import PredictCommand
    command = PredictCommand()
    args = command.option_set().resolve({"files": list(files), **options}, None)
    env = Environment(project, settings={"trainings-dir": "trainings"}, instance_names=["tiny-tron"])
    old = os.getcwd()
    os.chdir(project)
    try:
        code = command.run(args, env)
    finally:
        os.chdir(old)
    out, err = capsys.readouterr()
    return code, out, err


def test_text_output_matches_the_original_format(project, capsys):
    code, out, err = run_predict(project, capsys, "images/red.png", "images/blue.bmp")
    # The fabricated instance has no unknown score, as one trained before it existed: one line.
    assert code == 0 and err == ("Warning: @tiny-tron has no unknown rejection (trained before it "
                                 "existed, or stopped before the end of its training): every image "
                                 "gets one of its classes\n")
    blocks = out.strip().split("\n\n")
    assert [b.splitlines()[0] for b in blocks] == ["images/red.png", "images/blue.bmp"]
    red = blocks[0].splitlines()[1:]
    assert len(red) == 3  # --labels defaults to 5 but there are only 3 classes
    assert red[0].endswith("%    red") and red[0][:7].strip().endswith("%")
    assert all(len(line.split("%")[0]) == 6 for line in red)  # "{:>6.2f}%"
    assert blocks[1].splitlines()[1].endswith("    blue")


def test_compact_and_labels(project, capsys):
    code, out, _ = run_predict(project, capsys, "images/red.png", "images/sub/green.jpg",
                               compact="true", labels="1")
    assert code == 0
    assert out.splitlines() == ["images/red.png\tred", "images/sub/green.jpg\tgreen"]


def test_json_output(project, capsys):
    code, out, _ = run_predict(project, capsys, "images/red.png", format="json", labels="2")
    result = json.loads(out)
    assert result[0]["filename"] == "red.png" and result[0]["path"] == "images/red.png"
    assert [p["label"] for p in result[0]["prediction"]][0] == "red"
    assert len(result[0]["prediction"]) == 2
    assert 0.5 < result[0]["prediction"][0]["probability"] <= 1


def test_folder_and_glob_arguments(project, capsys):
    code, out, _ = run_predict(project, capsys, "images", compact="true")
    assert out.splitlines() == ["images/blue.bmp\tblue", "images/red.png\tred",
                                "images/sub/green.jpg\tgreen"]
    code, out, _ = run_predict(project, capsys, "images/*.png", "images/**/*.jpg", compact="true")
    assert out.splitlines() == ["images/red.png\tred", "images/sub/green.jpg\tgreen"]


def test_corrupt_and_missing_files_are_reported_others_predicted(project, capsys, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    truncated = tmp_path / "cut.png"
    data = (project / "images" / "red.png").read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    code, out, err = run_predict(project, capsys, str(bad), "images/red.png", str(truncated),
                                 "nope.png", compact="true")
    assert code == 0
    assert out.splitlines() == ["images/red.png\tred"]
    # (after the one line saying the fabricated instance has no unknown rejection)
    reported = [line.split(":")[0] for line in err.splitlines() if not line.startswith("Warning:")]
    assert reported == [str(bad), str(truncated), "nope.png"]
    code, out, err = run_predict(project, capsys, str(bad))
    assert code == 1 and out == "" and str(bad) in err


def test_predictor_matches_training_preprocessing(project):
    import keras
    from vergeml.data.images import fit_to_size, load_image
    from vergeml.models.imagenet.predictor import Predictor
    from vergeml.instances import load_instance
    instance = load_instance(project / "trainings", "tiny-tron")
    predictor = Predictor(instance)
    path = project / "images" / "sub" / "green.jpg"
    by_file = predictor.predict_files([str(path)], top_k=3)[0]["prediction"]
    by_bytes = predictor.predict_images([("g.jpg", path.read_bytes())], top_k=3)[0]["prediction"]
    by_image = predictor.predict_images([("g.jpg", Image.open(path).convert("RGB"))], top_k=3)[0]
    assert by_file == by_bytes == by_image["prediction"]
    # The same pipeline written out by hand, as training applies it.
    array = np.asarray(fit_to_size(load_image(str(path)), 32, "fill"), dtype=np.float32)
    model = keras.saving.load_model(instance.model_path)
    expected = model.predict(keras.applications.mobilenet.preprocess_input(array[None]), verbose=0)[0]
    assert by_file[0]["label"] == "green"
    assert by_file[0]["probability"] == pytest.approx(float(expected.max()), abs=1e-5)


def test_predictor_batches_many_files_and_rejects_missing_model(project, tmp_path):
    from vergeml.models.imagenet.image_predictor import BATCH_SIZE
    from vergeml.models.imagenet.predictor import Predictor
    from vergeml.instances import load_instance
    predictor = Predictor(load_instance(project / "trainings", "tiny-tron"))
    paths = [str(project / "images" / "red.png")] * (BATCH_SIZE + 3)
    results = predictor.predict_files(paths, top_k=1, resize="aspect-fit")
    assert len(results) == BATCH_SIZE + 3 and {r["prediction"][0]["label"] for r in results} == {"red"}
    real = load_instance(project / "trainings", "tiny-tron")
    broken = SimpleNamespace(name=real.name, hyperparameters=real.hyperparameters,
                             labels=real.labels, labels_path=real.labels_path,
                             model_path=tmp_path / "missing.keras")
    with pytest.raises(VergeMLError, match="model.keras not found"):
        Predictor(broken)


def test_predict_passes_the_device_settings_to_the_backend(project, capsys, monkeypatch):
    """--device must reach vergeml.runtimes.tensorflow_setup.load (the first call configures TensorFlow)."""
    from vergeml.runtimes import tensorflow_setup as backend
    seen = []
    real = backend.load

    def load(settings=None):
        seen.append(settings)
        return real(settings)
    monkeypatch.setattr(backend, "load", load)
    code, _, _ = run_predict(project, capsys, "images/red.png")
    assert code == 0
    assert seen and seen[0] == {"trainings-dir": "trainings"}
