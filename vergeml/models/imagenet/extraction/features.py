"""Backbone feature extraction: the expensive step of ``ml train``.

:class:`FeatureExtractor` validates its arguments without importing Keras;
the network is built on first use of :attr:`FeatureExtractor.model`.
"""
import contextlib
import hashlib
import json
import os
import uuid

from vergeml.errors import ConfigError, VergeMLError
from vergeml.fileutil import file_sha256
from vergeml.models.imagenet.backbones import get_backbone, load_object, resolve_alpha, resolve_size
from vergeml.models.imagenet.weights import normalize_weights, weights_path
from vergeml.settings.suggest import suggestion

# Bump when the meaning of extracted features changes (invalidates caches).
KEY_VERSION = 1
class FeatureExtractor:
    """A frozen ImageNet CNN that turns images into feature vectors.

    Args:
        architecture: backbone name (see :mod:`..backbones`).
        variant: family member for ``densenet``/``nasnet``/..., or ``auto``.
        size: input size in pixels, or ``auto`` for the backbone's default.
        alpha: width multiplier (mobilenets).
        weights: ``imagenet``, ``none`` (random init) or a weights file path.
        output_layer: ``last``, a layer name, or an index into ``model.layers``.
        seed: random seed; with ``weights='none'`` it makes the random
            backbone reproducible and is part of :attr:`key`.
        runtime: ``tensorflow`` or ``openvino`` (the forward pass of
            :meth:`iter_features`; see :mod:`.openvino_features`).
        cache_dir: where the OpenVINO conversion of the backbone is kept
            (None: a temporary folder, converted again by each process).

    Raises:
        ConfigError: invalid architecture, variant, size, alpha or weights path.
    """

    def __init__(self, architecture, variant="auto", size="auto", alpha=1.0,
                 weights="imagenet", output_layer="last", seed=None, runtime="tensorflow",
                 cache_dir=None):
        from vergeml.models.imagenet.extraction.openvino_features import RUNTIMES
        if runtime not in RUNTIMES:
            raise ConfigError(f"unknown runtime '{runtime}'", hint="choose from " + ", ".join(RUNTIMES))
        self.runtime = runtime
        self.cache_dir = cache_dir
        self._openvino = None
        self.backbone = get_backbone(architecture, variant)
        self.weights = normalize_weights(weights)
        self.alpha = resolve_alpha(self.backbone, alpha, self.weights)
        self.size = resolve_size(self.backbone, size, self.weights)
        self.output_layer = _normalize_layer(output_layer)
        self.seed = seed
        self._model = None
        self._forward = None
        self._key = None

    @classmethod
    def from_options(cls, values, seed, cache_dir=None):
        """The extractor the train options describe (``architecture``, ``size`` ...).

        Args:
            values: resolved options, canonical names; ``runtime`` may be absent.
            seed: the run's random seed.
            cache_dir: the project's cache folder (converted OpenVINO models).
        """
        return cls(values["architecture"], variant=values["variant"], size=values["size"],
                   alpha=values["alpha"], weights=values["weights"],
                   output_layer=values["output-layer"], seed=seed,
                   runtime=values.get("runtime") or "tensorflow", cache_dir=cache_dir)

    # -- identity -------------------------------------------------------------

    @property
    def key(self):
        """Stable digest of everything the features depend on (16 hex chars).

        For ImageNet weights this makes sure the weights file is present
        (downloading it, or raising the offline error).
        """
        if self._key is None:
            parts = {"v": KEY_VERSION, "backbone": self.backbone.name, "size": self.size,
                     "alpha": self.alpha, "output_layer": self.output_layer,
                     "weights": self._weights_identity()}
            text = json.dumps(parts, sort_keys=True)
            self._key = hashlib.sha256(text.encode()).hexdigest()[:16]
        return self._key

    def _weights_identity(self):
        if self.weights == "imagenet":
            path = self.weights_path()
            return f"imagenet:{os.path.basename(path)}:{file_sha256(path)}"
        if self.weights == "none":
            # Unseeded random weights are never reproducible: never reuse them.
            seed = uuid.uuid4().hex if self.seed is None else self.seed
            return f"none:{seed}"
        return f"file:{file_sha256(self.weights)}"

    def weights_path(self):
        """Local path of the weights to load, or None for random weights (see
        :func:`vergeml.models.imagenet.weights.weights_path`)."""
        return weights_path(self.backbone, self.alpha, self.size, self.weights)

    # -- the network ----------------------------------------------------------

    @property
    def model(self):
        """The backbone as a ``keras.Model``: images (size, size, 3) -> (dim,)."""
        if self._model is None:
            self._model = self._build()
        return self._model

    @property
    def dim(self):
        """Length of one feature vector."""
        return int(self.model.output_shape[-1])

    def _build(self):
        keras = _keras()
        path = self.weights_path()  # first: a missing file fails before the slow build
        if self.weights == "none" and self.seed is not None:
            keras.utils.set_random_seed(self.seed)
        kwargs = {"include_top": False, "weights": None, "pooling": "avg",
                  "input_shape": (self.size, self.size, 3)}
        if self.backbone.alphas:
            kwargs["alpha"] = self.alpha
        base = load_object(self.backbone.constructor)(**kwargs)
        if path:
            # Loading ourselves (rather than weights='imagenet') reads the file
            # from $KERAS_HOME as it is now; Keras fixes that folder at import.
            try:
                base.load_weights(path)
            except Exception as err:  # noqa: BLE001 - corrupt file, wrong architecture ...
                raise VergeMLError(f"cannot load weights {path} into {self.backbone.name}: "
                                   f"{_first_line(err)}") from None
        base.trainable = False
        return self._truncate(base)

    def _truncate(self, base):
        if self.output_layer == "last":
            return base
        keras = _keras()
        layer = _find_layer(base, self.output_layer)
        out = layer.output
        if len(out.shape) == 4:
            out = keras.layers.GlobalAveragePooling2D(name="features_pool")(out)
        elif len(out.shape) != 2:
            out = keras.layers.Flatten(name="features_flatten")(out)
        model = keras.Model(base.input, out, name=f"{base.name}_to_{layer.name}")
        model.trainable = False
        return model

    def preprocess(self, batch):
        """The architecture's own ``preprocess_input`` on float32 images (numpy or tensor)."""
        fn = load_object(self.backbone.preprocess)
        tf = _tf()
        if tf.is_tensor(batch):
            return fn(tf.cast(batch, tf.float32))
        import numpy as np
        # A copy: Keras preprocesses numpy arrays in place.
        return fn(np.array(batch, dtype=np.float32))

    def _compiled(self):
        """The forward pass as one traced graph (fixed signature: no retracing)."""
        if self._forward is None:
            tf = _tf()
            model = self.model

            @tf.function(input_signature=[tf.TensorSpec((None, self.size, self.size, 3),
                                                        tf.float32)])
            def forward(images):
                return model(images, training=False)
            self._forward = forward
        return self._forward

    def openvino_model(self):
        """The backbone converted to OpenVINO (once per cache folder) and compiled in f32."""
        if self._openvino is None:
            import tempfile

            from vergeml.models.imagenet.extraction import openvino_features as ov_features
            ov_features.require_openvino()
            if self.cache_dir is None:
                self.cache_dir = tempfile.mkdtemp(prefix="vergeml-openvino-")
            path = ov_features.ir_path(self.cache_dir, self.key)
            if not os.path.isfile(path):
                pixels = uint8_input(_keras(), self.model, load_object(self.backbone.preprocess),
                                     self.size, name=f"{self.model.name}_uint8")
                ov_features.convert_backbone(pixels, path, self.size)
            self._openvino = ov_features.compile_ir(path)
        return self._openvino

    # -- extraction -----------------------------------------------------------

    def iter_features(self, items, load_fn, batch_size=64):
        """Extract features, overlapping loading, preprocessing and the forward pass.

        Args:
            items: sequence of anything ``load_fn`` understands.
            load_fn: ``item -> uint8 array (size, size, 3)``; called from
                several threads at once, so it must be thread-safe.
            batch_size: images per forward pass.

        Yields:
            ``(indices, features)``: int64 array of positions in ``items``
            (in order) and float32 array ``(len(indices), dim)``.

        Raises:
            whatever ``load_fn`` raised, unchanged.
        """
        if self.runtime == "openvino":
            from vergeml.models.imagenet.extraction import openvino_features
            yield from openvino_features.iter_features(self, items, load_fn, batch_size)
            return
        import numpy as np
        tf = _tf()
        forward = self._compiled()
        preprocess = load_object(self.backbone.preprocess)
        with contextlib.closing(self.pixel_batches(items, load_fn, batch_size)) as batches:
            for indices, pixels in batches:
                # Eager, before the traced forward pass: the fused model's own
                # ops, so features equal its predictions.
                images = preprocess(tf.cast(tf.convert_to_tensor(pixels), tf.float32))
                yield indices, forward(images).numpy().astype(np.float32, copy=False)

    def extract(self, images, batch_size=64):
        """Features of a uint8 array ``(n, size, size, 3)``, as float32 ``(n, dim)``."""
        import numpy as np
        chunks = [f for _, f in self.iter_features(images, lambda x: x, batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.dim), "float32")

    def pixel_batches(self, items, load_fn, batch_size):
        """``(indices, uint8 pixels)`` batches of ``load_fn(item)``, loaded on a thread
        pool (see :func:`.pixel_batches.iter_pixel_batches`)."""
        from vergeml.models.imagenet.extraction.pixel_batches import iter_pixel_batches
        return iter_pixel_batches(items, load_fn, batch_size, (self.size, self.size, 3))

    # -- the saved classifier -------------------------------------------------

    def full_model(self, top_model):
        """Backbone and trained top fused into one model.

        Args:
            top_model: ``keras.Model`` mapping ``(dim,)`` features to class probabilities.

        Returns:
            ``keras.Model``: preprocessed float32 images ``(size, size, 3)`` ->
            the top's output. Saves and loads with ``keras.saving`` without
            custom objects.
        """
        keras = _keras()
        inputs = keras.Input((self.size, self.size, 3), name="image")
        outputs = top_model(self.model(inputs, training=False))
        return keras.Model(inputs, outputs, name=f"{self.backbone.keras_name}_classifier")


# -- helpers -------------------------------------------------------------------


def uint8_input(keras, model, preprocess, size, name):
    """``model`` behind its own ``preprocess_input``: uint8 RGB images in.

    The exports and the OpenVINO backbone take pixels, so the runtime, not
    Python, does the scaling (and callers need not know each architecture's).
    """
    inputs = keras.Input((size, size, 3), dtype="uint8", name="images")
    outputs = model(preprocess(keras.ops.cast(inputs, "float32")), training=False)
    return keras.Model(inputs, outputs, name=name)


def _keras():
    """Keras, imported quietly (:func:`vergeml.runtimes.tensorflow_setup.load`; a no-op once loaded)."""
    from vergeml.runtimes import tensorflow_setup as backend
    return backend.load()[1]


def _tf():
    """TensorFlow, imported quietly (see :func:`_keras`)."""
    from vergeml.runtimes import tensorflow_setup as backend
    return backend.load()[0]


def _normalize_layer(layer):
    """``last``, an int index, or a layer name."""
    if layer is None:
        return "last"
    if isinstance(layer, int) and not isinstance(layer, bool):
        return layer
    text = str(layer).strip()
    if text.lower() == "last":
        return "last"
    try:
        return int(text)
    except ValueError:
        return text


def _find_layer(model, wanted):
    if isinstance(wanted, int):
        if -len(model.layers) <= wanted < len(model.layers):
            return model.layers[wanted]
        raise ConfigError(f"layer not found: {wanted} ({model.name} has "
                          f"{len(model.layers)} layers, index 0..{len(model.layers) - 1})")
    names = [layer.name for layer in model.layers]
    if wanted in names:
        return model.get_layer(wanted)
    raise ConfigError(f"layer not found: {wanted}.{suggestion(wanted, names)}")


def _first_line(err):
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


