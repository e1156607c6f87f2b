"""``ml @name run:rest --export=FORMAT``: the REST service on an export, without TensorFlow."""
import json

import pytest

from tests.conftest import run_ml_process
from tests.e2e.test_rest import image_bytes, serving
from tests.integration.predict_helpers import make_instance

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def onnx_server(tmp_path_factory):
    project = tmp_path_factory.mktemp("rest-export")
    make_instance(project / "trainings")
    result = run_ml_process("@tiny-tron", "export", "--format=onnx", cwd=project, timeout=300)
    assert result.returncode == 0, result.output[-3000:]
    yield from serving(project, "--export=onnx")


def _maps(pid):
    with open(f"/proc/{pid}/maps") as handle:
        return handle.read()


def test_rest_on_an_onnx_export_predicts_like_the_model(onnx_server):
    files = [(f"{c}.png", image_bytes(c)) for c in ("red", "green", "blue")]
    status, results = onnx_server.predict(files, fields=[("labels", "1")])
    assert status == 200, results
    assert [r["prediction"][0]["label"] for r in results] == ["red", "green", "blue"]
    assert all(r["prediction"][0]["probability"] > 0.9 for r in results)


def test_rest_on_an_onnx_export_never_loads_tensorflow(onnx_server):
    status, _, body = onnx_server.request("GET", "/health")
    assert status == 200 and json.loads(body)["instance"] == "tiny-tron"
    maps = _maps(onnx_server.process.pid)
    assert "onnxruntime" in maps  # the check can see a loaded library
    assert "libtensorflow" not in maps and "_pywrap_tensorflow" not in maps


def test_rest_on_a_missing_export_is_a_one_line_error(tmp_path):
    make_instance(tmp_path / "trainings")
    result = run_ml_process("@tiny-tron", "run:rest", "--export=tflite", "--port=0",
                            "--no-browser", cwd=tmp_path, timeout=120)
    assert result.returncode == 1, result.output
    assert "Traceback" not in result.stderr and "tflite" in result.stderr
