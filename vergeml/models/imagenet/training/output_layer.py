"""Changes to the saved model's softmax layer that correct its probabilities
without retraining: a shift of each class's logit (class balance,
:func:`.class_weights.adjust_outputs`) and a temperature (calibration,
:mod:`vergeml.trust.calibration`). Both are folded into the ``predictions``
layer's weights, so ``model.keras``, ``ml @x predict``, REST and every export
carry them with no extra code.
"""


def predictions_layer(model):
    """The softmax ``Dense`` layer named ``predictions`` of the fused model (through its
    layer ``top``) or of the top itself."""
    top = model.get_layer("top") if any(layer.name == "top" for layer in model.layers) else model
    return top.get_layer("predictions")


def shift_logits(model, shift):
    """Add ``shift[i]`` to class ``i``'s logit, in place."""
    import numpy as np
    layer = predictions_layer(model)
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel, bias + np.asarray(shift, dtype=bias.dtype)])


def divide_logits(model, temperature):
    """Divide every logit by ``temperature``, in place (argmax unchanged)."""
    layer = predictions_layer(model)
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel / temperature, bias / temperature])
