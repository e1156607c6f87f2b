"""``import openvino`` with its usage telemetry off, for this process only.

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
