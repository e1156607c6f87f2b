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
        self._model = load_model(instance, settings)
        super().__init__(instance, labels, input_size(self._model, hyper), hyper.get("resize") or "fill")
        self._preprocess = preprocess_function(hyper)
        classes = self._model.output_shape[-1]
        if classes != len(self.labels):
            raise VergeMLError(f"@{self.name}: the model has {classes} outputs but "
                               f"labels.txt lists {len(self.labels)} labels")

    def predict_arrays(self, batch):
        """Run preprocess + model on a ``n x size x size x 3`` float32 batch.

        Returns:
            ``n x classes`` numpy array of probabilities.
        """
        import numpy as np
        batch = self._preprocess(np.array(batch, dtype=np.float32, copy=True))
        # Keras models are not documented as thread-safe; serialise the call.
        with self.lock:
            out = self._model.predict_on_batch(batch)
        return np.asarray(out)
