"""Grad-CAM heatmaps (Selvaraju et al. 2017) of the fused classifier.

The saved ``model.keras`` is ``input -> backbone -> top``
(:meth:`..extraction.features.FeatureExtractor.full_model`): two nested Keras
models. :class:`GradCam` rebuilds it as ``input -> (feature map of the
backbone's last spatial layer, pooled features)`` followed by the top's
logits, and weighs each channel of the feature map by the mean gradient of
the class's logit over it: the heatmap is the ReLU of that weighted sum,
scaled to [0, 1] per image.

TensorFlow and Keras are imported by the functions that need them only, so
importing this module stays cheap.
"""
from vergeml.errors import VergeMLError
from vergeml.models.imagenet.instance_model import split_fused


def last_spatial_layer(backbone):
    """The last layer of ``backbone`` whose output is a feature map.

    A feature map is a 4-D output (batch, height, width, channels) with more
    than one position; 1x1 maps (squeeze-and-excitation branches, the last
    blocks of a backbone built at its smallest size) do not count, since they
    cannot say *where*, and neither do padding and cropping layers, whose
    extra border is no feature. The layers are searched in the model's
    topological order, so at the backbone's own sizes the result is the
    feature map its global pooling reads; at its smallest sizes, where the
    last blocks are 1x1, it is an earlier one. Operations count as layers:
    ConvNeXt's blocks end in a residual ``+``, a Keras ``Operation``.

    Args:
        backbone: a functional ``keras.Model`` (the fused model's backbone).

    Returns:
        The ``keras.layers.Layer`` or ``keras.Operation``.

    Raises:
        VergeMLError: no layer of ``backbone`` gives a feature map.
    """
    _, keras = _load()
    geometric = (keras.layers.InputLayer, keras.layers.ZeroPadding2D, keras.layers.Cropping2D)
    for layer in reversed(backbone.operations):
        if not isinstance(layer, geometric) and _is_feature_map(layer):
            return layer
    raise VergeMLError(f"{backbone.name} has no spatial layer (no 4-D output larger than "
                       "1x1) to draw a heatmap from")


def _is_feature_map(layer):
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):  # never called, or several outputs
        return False
    if len(shape) != 4:
        return False
    height, width = shape[1], shape[2]
    # An unknown size (None) may be anything: count it as spatial.
    return height is None or width is None or height * width > 1


class GradCam:
    """Grad-CAM heatmaps of one fused classifier, traced once.

    Args:
        model: the fused ``keras.Model``, ``input -> backbone -> top``, as
            :meth:`FeatureExtractor.full_model` builds it and ``keras.saving``
            loads it back.

    Attributes:
        layer: the backbone layer the heatmaps come from (:func:`last_spatial_layer`).
        map_size: ``(height, width)`` of its feature map, the heatmaps' size.
        num_classes: the model's outputs.

    Raises:
        VergeMLError: ``model`` is not a backbone and a top, or the backbone
            has no spatial layer.
    """

    def __init__(self, model):
        tf, keras = _load()
        backbone, top = split_fused(model, "draw heatmaps")
        self.layer = last_spatial_layer(backbone)
        self.map_size = tuple(self.layer.output.shape[1:3])
        self._maps = keras.Model(backbone.inputs[0], [self.layer.output, backbone.outputs[0]],
                                 name=f"{backbone.name}_gradcam")
        self._scores = class_scores(top)
        self.num_classes = int(top.outputs[0].shape[-1])
        self._run = tf.function(self._explain, autograph=False, reduce_retracing=True, input_signature=[
            tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32),
            tf.TensorSpec((None,), tf.int32)])

    def heatmaps(self, preprocessed_batch, class_indices=None):
        """Heatmaps of a batch.

        Args:
            preprocessed_batch: float32 array ``(n, size, size, 3)``, already
                through the backbone's ``preprocess_input``, as the model takes it.
            class_indices: the class of each heatmap: None for each image's
                predicted class, one int for every image, or ``n`` ints.

        Returns:
            float32 array ``(n, *map_size)`` in [0, 1]; an image whose class
            has no positive evidence anywhere gets zeros.
        """
        return self.explain(preprocessed_batch, class_indices)[0]

    def explain(self, preprocessed_batch, class_indices=None):
        """Heatmaps and class probabilities from one forward pass.

        Args:
            preprocessed_batch, class_indices: as for :meth:`heatmaps`.

        Returns:
            ``(heatmaps, probabilities, class_indices)``: float32 ``(n, *map_size)``
            in [0, 1], float32 ``(n, classes)`` (the model's outputs), and int
            ``(n,)``, the class each heatmap is for.
        """
        import numpy as np
        batch = np.asarray(preprocessed_batch, dtype=np.float32)
        classes = self._class_array(class_indices, len(batch))
        if not len(batch):
            return (np.zeros((0, *self.map_size), np.float32),
                    np.zeros((0, self.num_classes), np.float32), classes)
        maps, probabilities, classes = self._run(batch, classes)
        return maps.numpy(), probabilities.numpy(), classes.numpy()

    def _class_array(self, class_indices, count):
        """``class_indices`` as int32 ``(count,)``; -1 stands for the predicted class."""
        import numpy as np
        if class_indices is None:
            return np.full(count, -1, np.int32)
        classes = np.asarray(class_indices, dtype=np.int64)
        if classes.ndim > 1 or classes.size not in (1, count):
            raise ValueError(f"expected one class index or {count}, got shape {classes.shape}")
        classes = np.broadcast_to(classes.reshape(-1), (count,))
        bad = classes[(classes < 0) | (classes >= self.num_classes)]
        if bad.size:
            raise ValueError(f"class index {int(bad[0])} out of range: the model has "
                             f"{self.num_classes} classes")
        return classes.astype(np.int32)

    def _explain(self, images, classes):
        tf, _ = _load()
        # Only the input is watched: that records the path to the feature map, and a
        # fine-tuned (trainable) backbone's variables are not needed.
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(images)
            feature_map, features = self._maps(images, training=False)
            logits, probabilities = self._scores(features)
            predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
            classes = tf.where(classes < 0, predicted, classes)
            score = tf.gather(logits, classes, axis=1, batch_dims=1)
        gradients = tape.gradient(score, feature_map)
        weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * feature_map, axis=-1))
        peak = tf.reduce_max(cam, axis=(1, 2), keepdims=True)
        return tf.math.divide_no_nan(cam, peak), probabilities, classes


def class_scores(top):
    """``features -> (scores, probabilities)`` of the top, for the gradients.

    The score is the class's logit, the softmax's input: the softmax's
    gradient (and the log-probability's) vanishes once a class is confident,
    the logit's does not. For :func:`..training.head.build_top`'s top, whose
    ``Dense`` layer applies the softmax itself, that is its kernel and bias
    applied to its input; a top ending in a softmax layer gives that layer's
    input; any other top is scored by its output.

    Args:
        top: the fused model's top.

    Returns:
        A function of float32 features ``(n, dim)``.
    """
    tf, keras = _load()
    last = top.layers[-1]
    if _is_softmax(last, keras.layers.Dense):
        body = keras.Model(top.inputs[0], last.input, name=f"{top.name}_body")

        def dense_logits(features):
            logits = tf.matmul(body(features, training=False), last.kernel)
            return logits if last.bias is None else logits + last.bias
        return _with_softmax(dense_logits)
    if isinstance(last, keras.layers.Softmax) or _is_softmax(last, keras.layers.Activation):
        body = keras.Model(top.inputs[0], last.input, name=f"{top.name}_logits")
        return _with_softmax(lambda features: body(features, training=False))

    def outputs(features):
        scores = top(features, training=False)
        return scores, scores
    return outputs


def _is_softmax(layer, kind):
    return isinstance(layer, kind) and getattr(layer.activation, "__name__", "") == "softmax"


def _with_softmax(logits_of):
    tf, _ = _load()

    def scores(features):
        logits = logits_of(features)
        return logits, tf.nn.softmax(logits)
    return scores


def _load():
    """``(tf, keras)``, imported quietly (:func:`vergeml.runtimes.tensorflow_setup.load`)."""
    from vergeml.runtimes import tensorflow_setup
    return tensorflow_setup.load()
