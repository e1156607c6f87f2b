"""OpenVINO: ``import openvino`` with its usage telemetry off (for this process only),
and the loader of OpenVINO IR exports.

``import openvino`` imports its model converter, which by default sends usage
events to Google Analytics (opt-out since openvino 2023.2). Each event runs in
a thread that forks a child to post it and waits up to 3 s for that child. A
command-line tool must not phone home; and where the network drops the packets
instead of refusing them, every event costs 3 s, plus a forked child of a
multi-threaded process (TensorFlow's) that the interpreter waits for at exit.

The user's own setting (``~/intel/openvino_telemetry``) is neither read nor
written: consent is declined for this process before the converter asks.
"""


def load():
    """The ``openvino`` module, imported with telemetry declined.

    Returns:
        The imported ``openvino`` package.

    Raises:
        ImportError: openvino is not installed (callers check the extra first).
    """
    _decline_telemetry()
    import openvino
    return openvino


def _decline_telemetry():
    try:
        from openvino_telemetry.utils import opt_in_checker, sender
    except ImportError:  # no telemetry package: nothing to switch off
        return
    declined = opt_in_checker.ConsentCheckResult.DECLINED
    opt_in_checker.OptInChecker.check = lambda self, *args, **kwargs: declined
    sender.TelemetrySender.send = lambda self, backend, message: None


def load_openvino(path, threads=None):
    """A callable ``run(batch) -> probabilities`` for an OpenVINO IR export (uint8 images in),
    compiled for the CPU in f32.

    Args:
        path: the ``model.xml`` file.
        threads: inference threads, or None for OpenVINO's default.
    """
    import numpy as np

    ov = load()
    config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}
    if threads:
        config["INFERENCE_NUM_THREADS"] = int(threads)
    compiled = ov.Core().compile_model(path, "CPU", config)

    def run(batch):
        request = compiled.create_infer_request()  # one per call: no shared state
        request.infer({0: np.ascontiguousarray(batch, dtype=np.uint8)})
        return request.get_output_tensor(0).data.copy()
    return run
