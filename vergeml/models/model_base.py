"""What a model plugin offers: its commands, its options and a predictor.

A model plugin registers a :class:`Model` subclass under the ``vergeml.model``
entry point group. ``ml @x predict``, ``ml @x run:rest`` and the plots depend
only on this module, so a second plugin is trained, listed, served and
plotted without touching ``commands/`` or ``services/``:

- ``ml train`` is whatever command the plugin's :meth:`Model.commands` names
  ``train``; it writes an instance folder (:mod:`vergeml.instances`) whose
  ``data.yaml`` records ``model: <plugin name>``.
- ``ml list`` reads only instance metadata.
- ``ml @x predict`` and ``run:rest`` ask the instance's plugin for a
  :class:`Predictor`.
- ``ml @x plot:*`` reads ``stats/test_predictions.npz`` of the instance.
"""
import os

from vergeml.errors import VergeMLError
from vergeml.settings.option import Option

# How many labels a prediction returns: ``ml predict --labels`` and REST's ``labels`` field.
LABELS_OPTION = Option("labels", default=5, type="int", rule=">0", metavar="N",
                       help="How many of the most likely labels to show per image.")


class Predictor:
    """A trained instance loaded for prediction (the interface predict and REST use).

    Subclasses call this constructor (or set the attributes) and implement
    :meth:`predict_images`.

    Args:
        name: the instance name.
        labels: class names in output order.
        size: input size in pixels, or None.
        defaults: the value of each per-request option when not given.

    Attributes:
        name: the instance name.
        labels: class names in output order.
        size: input size in pixels shown on the REST page, or None.
        options: per-request :class:`vergeml.settings.option.Option` declarations
            (``resize`` ...); their values reach :meth:`predict_images` and
            :meth:`predict_files` as keyword arguments.
        defaults: the value each of ``options`` takes when not given (shown
            as the pre-selected choice on the REST page).
    """

    name = ""
    labels = ()
    size = None
    options = ()
    defaults = {}

    def __init__(self, name="", labels=(), size=None, defaults=None):
        self.name = name
        self.labels = list(labels)
        self.size = size
        self.defaults = dict(defaults or {})

    def warm_up(self):
        """Run the model once so the first real request is not slowed by tracing."""

    def predict_images(self, items, top_k=5, **options):
        """Predict the classes of in-memory images.

        Args:
            items: ``(name, image)`` pairs; image is encoded bytes.
            top_k: how many labels to return per image.
            **options: values of :attr:`options`.

        Returns:
            One dict per item, in order: ``{"filename", "prediction":
            [{"label", "probability"}, ...]}`` or ``{"filename", "error"}``.
        """
        raise NotImplementedError

    def predict_files(self, paths, top_k=5, **options):
        """Predict the classes of image files (by default: read them, then
        :meth:`predict_images`).

        Returns:
            As :meth:`predict_images`, each result with ``path`` added.
        """
        items, errors = [], {}
        for index, path in enumerate(paths):
            try:
                with open(path, "rb") as handle:
                    items.append((os.path.basename(str(path)), handle.read()))
            except OSError as err:
                errors[index] = err.strerror or str(err)
        predicted = iter(self.predict_images(items, top_k, **options) if items else ())
        return [{"filename": os.path.basename(str(path)), "path": str(path), "error": errors[i]}
                if i in errors else {**next(predicted), "path": str(path)}
                for i, path in enumerate(paths)]

    def heatmap_png(self, data, label=None, **options):
        """A heatmap of what the prediction of one encoded image looked at.

        Args:
            data: the image, encoded bytes.
            label: the class to explain; None: the most likely one.
            **options: values of :attr:`options`.

        Returns:
            ``(label explained, PNG bytes)``.

        Raises:
            NotImplementedError: this model draws no heatmaps.
        """
        raise NotImplementedError

    def top(self, probs, top_k):
        """The ``top_k`` most likely labels of one probability row."""
        order = sorted(range(len(probs)), key=lambda i: -float(probs[i]))[:top_k]
        return [{"label": self.labels[i], "probability": round(float(probs[i]), 6)} for i in order]


class Model:
    """Base class of a model plugin (``vergeml.model`` entry points).

    Attributes:
        name: the plugin name stored in each instance's ``data.yaml``.
        description: one line shown by ``ml help models``.
    """

    name = ""
    description = ""

    def commands(self):
        """The model's commands by name: classes whose modules import nothing heavy.

        Usually ``train`` and ``predict``, where ``predict`` is
        :class:`vergeml.commands.predict.PredictCommand` (or a subclass adding
        the predictor's per-request options).
        """
        return {}

    def predictor(self, instance, settings=None, export=None):
        """A :class:`Predictor` for a trained instance of this model.

        Args:
            instance: a :class:`vergeml.instances.Instance`.
            settings: resolved global options (``--device`` ...).
            export: predict through this export of the instance (a format or
                folder, as ``ml @name export`` writes it) instead of the model;
                only passed when the user asked for one.
        """
        raise VergeMLError(f"model '{self.name}' cannot predict")

    def help_topic(self, topic):
        """Text of a model-specific help topic, or None."""
        return None

    def project_template(self, **values):
        """Text of a new project's ``vergeml.yaml``."""
        return f"model: {self.name}\n"

