"""``ml @name predict --runtime=openvino``: predict through the instance's OpenVINO export.

The export (``trainings/<name>/export/openvino/``, as ``ml @name export
--format=openvino`` writes it, checked against the Keras model) is written on
first use, which needs TensorFlow once; afterwards prediction runs the IR
through :class:`vergeml.models.imagenet.export.export_predictor.ExportPredictor`
without importing TensorFlow.
"""
import os


def ensure_openvino_export(instance, env):
    """The path of the instance's OpenVINO export folder, writing it when it is missing.

    Raises:
        VergeMLError: the ``openvino`` extra is missing, or the export failed its check.
    """
    from vergeml.runtimes import export_formats as runtimes
    runtimes.require_extra("openvino", "predict with")
    folder = os.path.join(str(instance.path), "export", "openvino")
    if not os.path.isfile(os.path.join(folder, "metadata.json")):
        import contextlib
        import sys

        from vergeml.models.imagenet.export.exporter import export
        print(f"Converting @{instance.name} to OpenVINO (once) ...", file=sys.stderr)
        with contextlib.redirect_stdout(sys.stderr):  # stdout stays the predictions
            export({"format": "openvino"}, env)
    return folder
