"""The ``imagenet`` model plugin: a frozen ImageNet backbone with a trained top.

Importing this package is cheap: TensorFlow and Keras are imported only when
``train`` or ``predict`` actually runs.
"""
from vergeml.models.model_base import Model

PROJECT_TEMPLATE = """\
model: imagenet

# Where samples live: one sub-folder per class (samples/cat, samples/dog ...).
# samples-dir: samples
# val-split: 10%
# test-split: 10%

# Defaults for `ml train`; the command line overrides them.
# See `ml help train` for every option.
train:
  architecture: {architecture}
  # epochs: 100
  # learning-rate: auto
  # optimizer: adam
  # dropout: 0.0
  # l2: auto
"""


class ImagenetModel(Model):
    """Image classifier: features from a pre-trained CNN, a small softmax top on them."""

    name = "imagenet"
    description = "Image classifier model, with weights pre-trained on ImageNet."

    def commands(self):
        """Model commands by name (classes; their modules import no TensorFlow)."""
        from vergeml.models.imagenet.commands import ExportCommand, PredictCommand, ResumeCommand, TrainCommand
        from vergeml.models.imagenet.doctor_command import DoctorCommand
        return {"train": TrainCommand, "resume": ResumeCommand, "predict": PredictCommand,
                "export": ExportCommand, "doctor": DoctorCommand}

    def predictor(self, instance, settings=None, export=None):
        """The imagenet :class:`~vergeml.models.imagenet.predictor.Predictor` of an instance,
        or with ``export`` its :class:`~vergeml.models.imagenet.export.export_predictor.ExportPredictor`
        (no TensorFlow import for the onnx, tflite and openvino formats)."""
        if export:
            from vergeml.models.imagenet.export.export_predictor import ExportPredictor
            from vergeml.runtimes.export_formats import resolve_export
            return ExportPredictor(instance, *resolve_export(str(instance.path), export))
        from vergeml.models.imagenet.predictor import Predictor
        return Predictor(instance, settings)

    def help_topic(self, topic):
        """Text of a model-specific help topic (``architecture``), or None."""
        if topic not in ("architecture", "architectures"):
            return None
        from vergeml.models.imagenet.backbones import BACKBONES
        rows = [f"  {b.name:<22} {b.keras_name:<20} {b.default_size:>4} px" for b in BACKBONES.values()]
        return "\n".join(["Architectures (--architecture), their Keras name and default input size:",
                          ""] + rows + ["", "Use --size to change the input size and --weights=none "
                                        "to train from random weights."])

    def project_template(self, architecture="resnet-50"):
        """Text of a new project's vergeml.yaml."""
        return PROJECT_TEMPLATE.format(architecture=architecture)
