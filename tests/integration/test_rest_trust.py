"""Trust in the REST service (issue 27) on a really trained instance: ``POST /predict``
says ``unknown`` (with ``ood_score`` and ``threshold``) for noise and photos shown to a
digits model and not for its own test images, obeys the ``reject`` field, shows
``unknown`` on the browser's result page; ``POST /explain`` draws a Grad-CAM PNG, and
refuses an unknown label, a non-image, an export (400) and a model without heatmaps
(501); ``/openapi.json`` documents both.

One real ``ml train`` (digits at 96 px, frozen MobileNet a0.25 with the shared
weights, in a subprocess), then the WSGI app in-process; one live ``run:rest`` check,
started beside the in-process model load so its start-up costs little wall time.
"""
import io
import json

import numpy as np
import pytest
from PIL import Image

from tests.e2e.conftest import PHOTOS
from tests.conftest import encode_multipart
from tests.export_helpers import TRAIN_ARGS, trained_project
from tests.reliability.rest_helpers import start_server
from vergeml.models.model_base import Predictor as BasePredictor
from vergeml.services.rest import RestApp

pytestmark = [
    # Keras's own saving code under numpy 2; nothing of ours.
    pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
]

SIZE = 96
FIELDS = {"unknown", "ood_score", "threshold"}
# A digits classifier that is right on its test images (test_acc 1.0 in ~15 s): the
# export helpers' run, 20 epochs at a higher rate (the last value of an option wins).
TRAIN = (*TRAIN_ARGS, "--epochs=20", "--learning-rate=0.01")


# -- the trained instance, the app, the images ----------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory, _keras_home_dir):
    """A project of 90 digits (0, 1, 7) after one real ``ml train``: (project, name, env)."""
    env = {"KERAS_HOME": str(_keras_home_dir), "TF_NUM_INTEROP_THREADS": "2"}
    project, name = trained_project(tmp_path_factory.mktemp("rest-trust"), env, TRAIN)
    return project, name, env


@pytest.fixture(scope="module")
def live(trained, tmp_path_factory):
    """``ml @name run:rest`` in a subprocess, started at once (it loads while the
    in-process tests run); stopped with SIGTERM at the end, cleanly and without a traceback."""
    project, name, env = trained
    server = start_server(project, name, env, folder=tmp_path_factory.mktemp("rest-trust-live"),
                          wait=False)
    yield server
    code = server.stop()
    assert code == 0, server.stderr()[-2000:]
    assert "Traceback" not in server.stderr(), server.stderr()[-3000:]


@pytest.fixture(scope="module")
def app(trained, live):
    """The WSGI app over the instance's Keras predictor, as ``run:rest`` builds it."""
    from vergeml.instances import load_instance
    from vergeml.models.imagenet import ImagenetModel
    project, name, _ = trained
    predictor = ImagenetModel().predictor(load_instance(project / "trainings", name))
    predictor.warm_up()
    return RestApp(predictor)


def _png(pixels):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def images(trained):
    """``known``: the instance's test images ``(name, bytes, true label)``; ``unknown``:
    noise PNGs and photos of ants and bees ``(name, bytes)``."""
    project, name, _ = trained
    with np.load(project / "trainings" / name / "stats" / "test_predictions.npz") as stats:
        files = [str(f) for f in stats["files"]]
    assert len(files) >= 12, files
    known = [(f.replace("/", "-"), (project / "samples" / f).read_bytes(), f.split("/")[0]) for f in files]
    rng = np.random.default_rng(7)
    noise = [(f"noise-{i}.png", _png(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))) for i in range(3)]
    if not PHOTOS.is_dir():
        pytest.fail(f"the real photos are missing: {PHOTOS}")
    photos = [(p.name, p.read_bytes()) for label in ("ants", "bees")
              for p in sorted((PHOTOS / "val" / label).iterdir())[:2]]
    return {"known": known, "unknown": noise + photos}


def call(app, method, path, fields=(), files=(), accept=None):
    """One request to the WSGI app in-process; ``files`` are ``(filename, bytes)`` of the
    ``files`` field. Returns ``(status, headers, body bytes)``."""
    body, content_type = encode_multipart(fields, [("files", n, d) for n, d in files])
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "CONTENT_TYPE": content_type,
               "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
    if accept:
        environ["HTTP_ACCEPT"] = accept
    answer = {}

    def start_response(status, headers):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

    data = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], data


def predict(app, files, fields=()):
    """``POST /predict`` as JSON: ``(status, decoded body)``."""
    status, headers, body = call(app, "POST", "/predict", fields, files)
    assert headers["Content-Type"] == "application/json"
    return status, json.loads(body)


def fitted_threshold(trained):
    project, name, _ = trained
    from vergeml.instances import load_instance
    return load_instance(project / "trainings", name).results["reject_threshold"]


# -- POST /predict ----------------------------------------------------------------------


def test_predict_says_unknown_for_noise_and_photos_not_for_its_own_test_images(app, images, trained):
    known, unknown = images["known"], images["unknown"]
    status, results = predict(app, [(n, d) for n, d, _ in known] + unknown, fields=[("labels", "2")])
    assert status == 200, results
    threshold = fitted_threshold(trained)
    for result in results:
        assert set(result) == {"filename", "prediction", *FIELDS}, result
        assert type(result["unknown"]) is bool
        assert isinstance(result["ood_score"], float) and result["ood_score"] >= 0
        assert result["threshold"] == pytest.approx(threshold, abs=1e-6)
        assert result["unknown"] == (result["ood_score"] > result["threshold"])
        assert len(result["prediction"]) == 2  # the nearest classes are still there
    own, foreign = results[:len(known)], results[len(known):]
    assert [r["filename"] for r in foreign] == [n for n, _ in unknown]
    assert all(r["unknown"] for r in foreign), foreign
    assert sum(r["unknown"] for r in own) <= len(own) // 10, own  # at most 10% of its own kind
    right = sum(r["prediction"][0]["label"] == label for r, (_, _, label) in zip(own, known))
    assert right >= 0.8 * len(own), own
    assert min(r["ood_score"] for r in foreign) > max(r["ood_score"] for r in own)


def test_reject_off_a_number_and_a_bad_value(app, images):
    files = [(n, d) for n, d, _ in images["known"]] + images["unknown"]
    _, auto = predict(app, files, fields=[("labels", "1"), ("reject", "auto")])
    status, off = predict(app, files, fields=[("labels", "1"), ("reject", "off")])
    assert status == 200 and all(not FIELDS & set(r) for r in off), off[0]
    assert [r["prediction"] for r in off] == [r["prediction"] for r in auto]
    # A threshold halfway between two scores of the own images: some of them become unknown.
    scores = sorted({r["ood_score"] for r in auto[:len(images["known"])]})
    chosen = round((scores[len(scores) // 2 - 1] + scores[len(scores) // 2]) / 2, 7)
    status, numbered = predict(app, files, fields=[("labels", "1"), ("reject", str(chosen))])
    assert status == 200, numbered
    assert all(r["threshold"] == pytest.approx(chosen, abs=1e-6) for r in numbered)
    assert [r["unknown"] for r in numbered] == [r["ood_score"] > chosen for r in auto]
    assert sum(r["unknown"] for r in numbered) > sum(r["unknown"] for r in auto)
    status, lenient = predict(app, files, fields=[("reject", "5")])  # over any cosine distance
    assert status == 200 and not any(r["unknown"] for r in lenient)
    for bad in ("sometimes", ""):
        status, error = predict(app, files[:1], fields=[("reject", bad)])
        assert status == 400 and error["error"].startswith("reject: "), error
        assert "auto" in error["error"] and "off" in error["error"]


def test_browser_result_page_says_unknown_with_the_score(app, images):
    (noise, noise_data), (own, own_data, label) = images["unknown"][0], images["known"][0]
    status, headers, body = call(app, "POST", "/predict", files=[(noise, noise_data), (own, own_data)],
                                 accept="text/html,application/xhtml+xml,*/*;q=0.8")
    page = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/html"), page[-500:]
    assert '<b id="label-0">unknown</b>' in page
    assert "unlike the training images: score " in page and "over the threshold" in page
    assert f'<b id="label-1">{label}</b>' in page
    assert page.count("unlike the training images") == 1  # the own image is not unknown


def test_a_number_for_an_instance_without_a_score_is_400(tmp_path):
    """An instance trained before rejection existed: no fields, and ``reject=0.5`` is a 400."""
    from tests.e2e.test_rest import image_bytes
    from tests.integration.predict_helpers import make_instance
    from vergeml.instances import load_instance
    from vergeml.models.imagenet.predictor import Predictor
    make_instance(tmp_path / "trainings")
    old = RestApp(Predictor(load_instance(tmp_path / "trainings", "tiny-tron")))
    status, results = predict(old, [("red.png", image_bytes("red"))])
    assert status == 200 and set(results[0]) == {"filename", "prediction"}
    status, error = predict(old, [("red.png", image_bytes("red"))], fields=[("reject", "0.5")])
    assert status == 400 and "@tiny-tron has no unknown score" in error["error"], error


# -- POST /explain ----------------------------------------------------------------------


def _heatmap(app, name, data, fields=()):
    status, headers, body = call(app, "POST", "/explain", fields, [(name, data)])
    assert status == 200, body[:500]
    assert headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(body))
    assert image.format == "PNG" and image.size == (SIZE, SIZE)
    return headers["X-Label"], np.asarray(image.convert("RGB"), dtype=np.float32)


def test_explain_draws_the_predicted_class_or_the_asked_one(app, images):
    name, data, label = images["known"][0]
    _, results = predict(app, [(name, data)], fields=[("reject", "off")])
    predicted = results[0]["prediction"][0]["label"]
    assert predicted == label
    explained, heat = _heatmap(app, name, data)
    assert explained == predicted
    # The image as the model saw it (decoded, fitted to 96 px): the heat is drawn over it.
    plain = app.predictor.decoder.decode(app.predictor.decoder.open_bytes(data), None)
    assert plain.shape == heat.shape
    assert np.abs(heat - plain).mean() > 10
    other = next(c for c in app.predictor.labels if c != predicted)
    explained, heat_other = _heatmap(app, name, data, fields=[("label", other)])
    assert explained == other
    assert np.abs(heat_other - heat).mean() > 1  # another class, another map
    # An unknown image is explained too (its nearest class), with the option fields.
    noise, noise_data = images["unknown"][0]
    explained, _ = _heatmap(app, noise, noise_data, fields=[("resize", "aspect-fit"), ("reject", "off")])
    assert explained in app.predictor.labels


def test_explain_refuses_an_unknown_label_a_non_image_and_bad_fields(app, images):
    name, data, _ = images["known"][0]
    status, _, body = call(app, "POST", "/explain", [("label", "wasps")], [(name, data)])
    error = json.loads(body)["error"]
    assert status == 400 and "unknown label 'wasps'" in error and "labels: 0, 1, 7" in error
    status, _, body = call(app, "POST", "/explain", files=[("notes.txt", b"hello, not an image")])
    answer = json.loads(body)
    assert status == 400 and answer["file"] == "notes.txt", answer
    assert answer["error"].startswith("notes.txt: not a valid image")
    status, _, body = call(app, "POST", "/explain", [("reject", "sometimes")], [(name, data)])
    assert status == 400 and json.loads(body)["error"].startswith("reject: ")
    status, _, body = call(app, "POST", "/explain", [("label", "7")])
    assert status == 400 and "no files" in json.loads(body)["error"]


class _NoHeatmaps(BasePredictor):
    """A model plugin's predictor that draws no heatmaps (the base class's default)."""

    def predict_images(self, items, top_k=5, **options):
        return [{"filename": n, "prediction": [{"label": "a", "probability": 1.0}]} for n, _ in items]


def test_a_predictor_without_heatmaps_answers_501(images):
    plain = RestApp(_NoHeatmaps("plain-tron", ["a", "b"], 32))
    name, data = images["unknown"][0]
    status, _, body = call(plain, "POST", "/explain", files=[(name, data)])
    assert status == 501 and json.loads(body) == {"error": "@plain-tron draws no heatmaps"}


def test_an_export_predictor_refuses_to_explain(images):
    """``run:rest --export=...``: heatmaps need the Keras model, so ``/explain`` is a 400
    naming it. (Loading an export costs seconds; the answer depends on no runtime, so the
    predictor is made without one. That an export decides unknown as the Keras model does
    is tests/integration/test_export.py's.)"""
    from vergeml.models.imagenet.export.export_predictor import ExportPredictor
    exported = ExportPredictor.__new__(ExportPredictor)
    BasePredictor.__init__(exported, "onnx-tron", ["0", "1", "7"], SIZE,
                           {"resize": "fill", "tta": False, "reject": "auto"})
    exported_app, (name, data, _) = RestApp(exported), images["known"][0]
    status, _, body = call(exported_app, "POST", "/explain", files=[(name, data)])
    assert status == 400 and json.loads(body) == {
        "error": "heatmaps need the Keras model's gradients; serve it without --export"}
    status, _, body = call(exported_app, "POST", "/explain", [("label", "7")], [(name, data)])
    assert status == 400 and "Keras model" in json.loads(body)["error"]


# -- /openapi.json and the live server --------------------------------------------------


def test_openapi_documents_explain_and_the_rejection_fields(app):
    status, _, body = call(app, "GET", "/openapi.json")
    spec = json.loads(body)
    assert status == 200 and {"/explain", "/predict"} <= set(spec["paths"])
    explain = spec["paths"]["/explain"]["post"]
    properties = explain["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert {"files", "label", "reject", "resize", "tta"} <= set(properties)
    assert "image/png" in explain["responses"]["200"]["content"]
    assert {"200", "400", "501"} <= set(explain["responses"])
    predict_body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert predict_body["schema"]["properties"]["reject"]["default"] == "auto"
    result = spec["components"]["schemas"]["Result"]["properties"]
    assert result["unknown"]["type"] == "boolean"
    assert result["ood_score"]["type"] == result["threshold"]["type"] == "number"


def test_live_server_says_unknown_and_explains(live, images):
    """The real ``run:rest`` over HTTP: the same fields, and a PNG with ``X-Label``."""
    live.wait_ready()
    (noise, noise_data), (own, own_data, label) = images["unknown"][0], images["known"][0]
    status, results = live.predict_json([(noise, noise_data), (own, own_data)], fields=[("labels", "1")])
    assert status == 200 and [r["unknown"] for r in results] == [True, False], results
    body, content_type = encode_multipart([("label", label)], [("files", own, own_data)])
    status, headers, png = live.request("POST", "/explain", body, {"Content-Type": content_type})
    assert status == 200 and headers["Content-Type"] == "image/png" and headers["X-Label"] == label
    assert Image.open(io.BytesIO(png)).size == (SIZE, SIZE)
