"""Prediction with a trained instance's Keras model: ``ml @name predict`` and the
REST service.

:class:`Predictor` loads the instance's saved model once and classifies images
with exactly the preprocessing used in training: the shared decoding
(:mod:`.image_decoder`: load, ``data.preprocess``, fit to the training size)
-> the backbone's ``preprocess_input`` -> model. Keras is imported lazily so
``ml help`` stays fast.
"""
from vergeml.errors import VergeMLError
from vergeml.models.imagenet.image_predictor import ImagePredictor
from vergeml.models.imagenet.instance_model import (input_size, load_model, preprocess_function,
                                                    read_labels)
from vergeml.models.imagenet.rejection import load_ood, scored_model, stored_threshold


class Predictor(ImagePredictor):
    """Classify images with a trained instance's ``model.keras``.

    Args:
        instance: a :class:`vergeml.instances.Instance`.
        settings: resolved global options (``--device`` ...) for
            :func:`vergeml.runtimes.tensorflow_setup.load`; None for the defaults.
    """

    def __init__(self, instance, settings=None):
        hyper = dict(instance.hyperparameters or {})
        labels = read_labels(instance)
        model = load_model(instance, settings)
        classes = model.output_shape[-1]
        if classes != len(labels):
            raise VergeMLError(f"@{instance.name}: the model has {classes} outputs but "
                               f"labels.txt lists {len(labels)} labels")
        threshold = stored_threshold(instance)
        self.fused_model = model  # image -> backbone -> top, for the heatmaps
        self._model = model if threshold is None else scored_model(model, load_ood(instance))
        super().__init__(instance, labels, input_size(model, hyper), hyper.get("resize") or "fill",
                         threshold)
        self.preprocess = preprocess_function(hyper)
        self._explainer = None

    def explainer(self):
        """The :class:`~vergeml.models.imagenet.explain.explainer.Explainer` of this model
        (built on first use)."""
        if self._explainer is None:
            from vergeml.models.imagenet.explain.explainer import Explainer
            self._explainer = Explainer(self)
        return self._explainer

    def heatmap_png(self, data, label=None, resize=None, tta=None, **_options):
        """A Grad-CAM heatmap over one encoded image: ``(label explained, PNG bytes)``; without
        ``label``, of the class the prediction (with ``tta`` as asked) chooses."""
        return self.explainer().png(data, label, resize, tta)

    def predict_arrays(self, batch):
        """Run preprocess + model on a ``n x size x size x 3`` float32 batch.

        Returns:
            ``n x classes`` numpy array of probabilities, then the unknown score
            when the instance has one.
        """
        import numpy as np
        batch = self.preprocess(np.array(batch, dtype=np.float32, copy=True))
        # Keras models are not documented as thread-safe; serialise the call.
        with self.lock:
            out = self._model.predict_on_batch(batch)
        return np.asarray(out)
