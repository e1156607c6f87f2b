"""The Keras layer of the unknown score (:mod:`vergeml.trust.ood_score`), inside the model.

``1 - mean(top_k(unit(f) @ bank.T, k))``: the cosine distance of a feature
vector to its ``k`` nearest training images. The bank is a non-trainable
weight, so it travels with the model into every export (ONNX, LiteRT,
SavedModel, OpenVINO trace the computation; a ``.keras`` export stores the
layer by its registered name, which :func:`layer_class` registers before
a load). Keras is imported only when the class is first asked for.
"""
import functools

from vergeml.trust.ood_score import EPS  # the same floor: a zero vector scores 1


@functools.lru_cache(maxsize=None)
def layer_class():
    """The registered ``vergeml>NearestDistance`` layer class (defined once)."""
    import keras

    @keras.saving.register_keras_serializable(package="vergeml")
    class NearestDistance(keras.layers.Layer):
        """``(n, d)`` features -> ``(n, 1)`` cosine distance to the ``k`` nearest bank rows.

        Args:
            rows: bank rows (training images kept).
            k: nearest rows averaged over.
        """

        def __init__(self, rows, k, **kwargs):
            super().__init__(**kwargs)
            self.rows, self.k = int(rows), int(k)

        def build(self, input_shape):
            self.bank = self.add_weight(shape=(self.rows, int(input_shape[-1])), initializer="zeros",
                                        trainable=False, name="bank")

        def call(self, features):
            ops = keras.ops
            norms = ops.sqrt(ops.sum(ops.square(features), axis=-1, keepdims=True))
            unit = features / ops.maximum(norms, EPS)
            similarity = ops.matmul(unit, ops.transpose(self.bank))
            nearest, _ = ops.top_k(similarity, self.k)
            return 1.0 - ops.mean(nearest, axis=-1, keepdims=True)

        def compute_output_shape(self, input_shape):
            return (input_shape[0], 1)

        def get_config(self):
            return {**super().get_config(), "rows": self.rows, "k": self.k}

    return NearestDistance


def nearest_distance(features, bank, k, name="unknown_score"):
    """Apply a :func:`layer_class` layer holding ``bank`` (unit rows, ``(m, d)``) to ``features``."""
    layer = layer_class()(len(bank), k, name=name)
    out = layer(features)
    layer.set_weights([bank])
    return out
