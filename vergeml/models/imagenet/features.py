"""Backbone feature extraction: the expensive step of ``ml train``.

:class:`FeatureExtractor` validates its arguments without importing Keras;
the network is built on first use of :attr:`FeatureExtractor.model`.
"""
import hashlib
import json
import os
import socket
import threading
import uuid

from vergeml.errors import ConfigError, VergeMLError
from vergeml.fileutil import file_sha256
from vergeml.models.imagenet.backbones import (
    get_backbone, load_object, resolve_alpha, resolve_size, weights_dir, weights_file,
    weights_url)
from vergeml.suggest import suggestion

# Bump when the meaning of extracted features changes (invalidates caches).
KEY_VERSION = 1
# Host every keras.applications weights file is served from.
WEIGHTS_HOST = "storage.googleapis.com"
# Seconds allowed for DNS + TCP connect before declaring ourselves offline.
CONNECT_TIMEOUT = 3.0
# Socket timeout while Keras downloads, so a stalled transfer cannot hang forever.
DOWNLOAD_TIMEOUT = 60.0

class FeatureExtractor:
    """A frozen ImageNet CNN that turns images into feature vectors.

    Args:
        architecture: backbone name (see :mod:`.backbones`).
        variant: family member for ``densenet``/``nasnet``/..., or ``auto``.
        size: input size in pixels, or ``auto`` for the backbone's default.
        alpha: width multiplier (mobilenets).
        weights: ``imagenet``, ``none`` (random init) or a weights file path.
        output_layer: ``last``, a layer name, or an index into ``model.layers``.
        seed: random seed; with ``weights='none'`` it makes the random
            backbone reproducible and is part of :attr:`key`.

    Raises:
        ConfigError: invalid architecture, variant, size, alpha or weights path.
    """

    def __init__(self, architecture, variant="auto", size="auto", alpha=1.0,
                 weights="imagenet", output_layer="last", seed=None):
        self.backbone = get_backbone(architecture, variant)
        self.weights = _normalize_weights(weights)
        self.alpha = resolve_alpha(self.backbone, alpha, self.weights)
        self.size = resolve_size(self.backbone, size, self.weights)
        self.output_layer = _normalize_layer(output_layer)
        self.seed = seed
        self._model = None
        self._forward = None
        self._key = None

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

    # -- weights --------------------------------------------------------------

    def weights_path(self):
        """Local path of the weights to load, or None for random weights.

        Raises:
            VergeMLError: ImageNet weights absent and not downloadable.
        """
        if self.weights == "none":
            return None
        if self.weights != "imagenet":
            return self.weights
        name = weights_file(self.backbone, self.alpha, self.size)
        path = os.path.join(weights_dir(), name)
        if not os.path.isfile(path):
            _download(name, weights_url(self.backbone, self.alpha, self.size), self._missing(name))
        return path

    def _missing(self, name):
        folder = weights_dir()
        hint = f"Put {name} into {folder}, or use --weights=none to train on random weights."
        if self.backbone.sizes:
            fallback = weights_file(self.backbone, self.alpha, None)
            if fallback != name and os.path.isfile(os.path.join(folder, fallback)):
                hint += (f" {fallback} is present: any size but "
                         f"{', '.join(str(s) for s in self.backbone.sizes if s != 224)} uses it.")
        return VergeMLError(
            f"ImageNet weights for {self.backbone.name} are missing: {name} is not in "
            f"{folder} and could not be downloaded",
            hint=hint)

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
            except Exception as err:  # corrupt file, wrong architecture ...
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
        import numpy as np
        forward = self._compiled()
        errors = []
        dataset = self._dataset(len(items), self._loader(items, load_fn, errors), batch_size)
        tf = _tf()
        try:
            for indices, images in dataset:
                yield indices.numpy(), forward(images).numpy().astype(np.float32, copy=False)
        except tf.errors.OpError:
            if errors:
                raise errors[0] from None
            raise

    def extract(self, images, batch_size=64):
        """Features of a uint8 array ``(n, size, size, 3)``, as float32 ``(n, dim)``."""
        import numpy as np
        chunks = [f for _, f in self.iter_features(images, lambda x: x, batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.dim), "float32")

    def _loader(self, items, load_fn, errors):
        import numpy as np
        shape = (self.size, self.size, 3)

        def load(index):
            try:
                array = np.asarray(load_fn(items[int(index)]))
                if array.shape != shape:
                    raise VergeMLError(f"load_fn returned shape {array.shape} for item "
                                       f"{int(index)}, expected {shape}")
                return array.astype(np.uint8, copy=False)
            except BaseException as err:
                # Keep the real exception: tf.numpy_function would flatten it to text.
                errors.append(err)
                raise
        return load

    def _dataset(self, count, load, batch_size):
        tf = _tf()
        size = self.size
        preprocess = load_object(self.backbone.preprocess)

        # Plain graph code: autograph conversion would only add warnings.
        @tf.autograph.experimental.do_not_convert
        def load_one(index):
            image = tf.numpy_function(load, [index], tf.uint8, stateful=False)
            image.set_shape((size, size, 3))
            return index, image

        @tf.autograph.experimental.do_not_convert
        def prepare(indices, images):
            return indices, preprocess(tf.cast(images, tf.float32))

        dataset = tf.data.Dataset.range(count)
        dataset = dataset.map(load_one, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        dataset = dataset.batch(batch_size)
        dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return dataset.prefetch(tf.data.AUTOTUNE)

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


def _keras():
    """Keras, imported quietly (:func:`vergeml.backend.load`; a no-op once loaded)."""
    from vergeml import backend
    return backend.load()[1]


def _tf():
    """TensorFlow, imported quietly (see :func:`_keras`)."""
    from vergeml import backend
    return backend.load()[0]


def _normalize_weights(weights):
    """``imagenet``, ``none`` or an absolute path that exists."""
    text = "none" if weights is None else str(weights).strip()
    if text.lower() in ("imagenet", "none"):
        return text.lower()
    path = os.path.abspath(os.path.expanduser(text))
    if not os.path.isfile(path):
        raise ConfigError(f"weights file not found: {text} (use imagenet, none or a file path)")
    return path


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


def _online():
    """Whether the weights host answers within CONNECT_TIMEOUT seconds.

    DNS lookups ignore socket timeouts and can block for tens of seconds, so
    the probe runs in a daemon thread that we simply stop waiting for.
    """
    result = []

    def probe():
        try:
            socket.create_connection((WEIGHTS_HOST, 443), timeout=CONNECT_TIMEOUT).close()
            result.append(True)
        except OSError:
            pass
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT + 0.5)
    return bool(result)


def _offline_forced():
    return os.environ.get("VERGEML_OFFLINE", "").strip().lower() not in ("", "0", "no", "false")


def _uses_proxy():
    return any(os.environ.get(v) for v in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"))


def _download(name, url, missing_error):
    """Fetch a weights file into ``$KERAS_HOME/models`` or raise ``missing_error`` fast.

    VERGEML_OFFLINE=1 skips the network entirely. Otherwise a short probe
    of the weights host (skipped behind a proxy, which a direct connect
    cannot see through) decides before Keras's urlretrieve, which has no
    timeout of its own, gets a chance to hang.
    """
    if _offline_forced() or (not _uses_proxy() and not _online()):
        raise missing_error
    keras = _keras()
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
    try:
        keras.utils.get_file(name, url, cache_dir=os.path.dirname(weights_dir()),
                             cache_subdir="models")
    except Exception:
        raise missing_error from None
    finally:
        socket.setdefaulttimeout(previous)
    if not os.path.isfile(os.path.join(weights_dir(), name)):
        raise missing_error
