"""OpenVINO's usage telemetry is off in our processes, and only there.

Each test runs a fresh interpreter with ``HOME`` in a temporary folder: the
telemetry package keeps its client id and consent under ``~/intel``.
"""
import subprocess
import sys

from tests.conftest import REPO

PROBE = """
import multiprocessing, sys
{load}
import openvino_telemetry
tm = openvino_telemetry.Telemetry(app_name="probe", app_version="0", tid="G-PROBE",
                                  backend="ga4", enable_opt_in_dialog=False)
tm.send_event("probe", "probe", "probe")
tm.sender.executor.shutdown(wait=True)
print("consent", tm.consent, "children", len(multiprocessing.active_children()))
"""


def _probe(tmp_path, load):
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", PROBE.format(load=load)], env=env,
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.split()


def test_loading_openvino_through_vergeml_declines_telemetry(tmp_path):
    out = _probe(tmp_path, "from vergeml.runtimes import openvino_runtime; openvino_runtime.load()")
    assert out == ["consent", "False", "children", "0"]
    assert not (tmp_path / "intel").exists(), "no client id written to the user's home"


def test_a_plain_import_would_have_sent_it(tmp_path):
    """The control: without our loader the same probe consents and writes a client id.

    (Its sender is stubbed, so the control itself sends nothing.)
    """
    out = _probe(tmp_path, "from openvino_telemetry.utils import sender; "
                           "sender.TelemetrySender.send = lambda *a: None; import openvino")
    assert out[:2] == ["consent", "True"]
    assert (tmp_path / "intel" / "openvino_ga_cid").is_file()
