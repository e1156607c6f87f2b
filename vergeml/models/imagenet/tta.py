"""Test-time augmentation (``--tta``): fixed views of each image, the model's
probabilities averaged over them.

The views of a batch already fitted to the model's input size, in this order:

1. the image as it is,
2. flipped left to right,
3. its central crop (:data:`CROP` of each side) scaled back to the size
   (bilinear), a slight zoom in,
4. that crop flipped.

They are deterministic (no randomness), so a prediction repeats exactly, and
pure NumPy on pixels 0-255, so every predictor (the Keras model, an export
through onnxruntime, LiteRT or OpenVINO) and the test evaluation of
``ml train`` see the same pixels. NumPy is imported inside the functions:
this module is cheap to import.
"""

# The central crop's side as a share of the image's: 7/8, the classic ImageNet
# evaluation crop (224 of 256), so the zoomed view loses only a thin border.
CROP = 0.875
VIEWS = ("identity", "flip", "crop", "crop-flip")


def trained_with_tta(hyperparameters):
    """Whether an instance was trained (tested) with ``--tta``.

    Args:
        hyperparameters: the instance's stored hyperparameters (may be None;
            an instance from before ``--tta`` has no ``tta`` entry).

    Returns:
        True or False.
    """
    return bool((hyperparameters or {}).get("tta", False))


def use_tta(requested, trained):
    """The TTA setting of one prediction: what was asked, else what the instance was trained with.

    Args:
        requested: ``--tta`` / the REST field as given, or None when not given.
        trained: :func:`trained_with_tta` of the instance.

    Returns:
        True or False.
    """
    return bool(trained if requested is None else requested)


def crop_box(size):
    """``(offset, side)`` of the central crop of a ``size`` square (offset rounded down)."""
    side = max(1, int(round(size * CROP)))
    return (size - side) // 2, side


def views(batch):
    """The TTA views of a batch, in the order of :data:`VIEWS`.

    Args:
        batch: ``n x h x w x c`` pixels 0-255 (uint8 or float).

    Returns:
        A list of ``len(VIEWS)`` arrays shaped and typed like ``batch``; the
        scaled crops are rounded to whole pixel values, so a uint8 runtime and
        a float model get the same view.
    """
    import numpy as np
    batch = np.asarray(batch)
    height, width = batch.shape[1:3]
    top, side_h = crop_box(height)
    left, side_w = crop_box(width)
    crop = batch[:, top:top + side_h, left:left + side_w].astype(np.float32)
    zoomed = _resize_axis(_resize_axis(crop, 1, height), 2, width)
    zoomed = np.rint(zoomed).astype(batch.dtype)
    return [batch, batch[:, :, ::-1], zoomed, zoomed[:, :, ::-1]]


def stacked_views(batch):
    """:func:`views` concatenated along the batch axis: ``len(VIEWS) * n`` images, view by view."""
    import numpy as np
    return np.concatenate(views(batch), axis=0)


def mean_probabilities(predict, batch):
    """The model's class probabilities averaged over the views of each image.

    The mean of the probabilities (not of the logits): what each view says,
    weighed equally. The views of the whole batch go to ``predict`` in one
    call, so a runtime sees ``len(VIEWS)`` times the batch, not more calls.

    Args:
        predict: ``pixels (m x h x w x c) -> probabilities (m x classes)``.
        batch: ``n x h x w x c`` pixels 0-255.

    Returns:
        ``n x classes`` float32 probabilities.
    """
    import numpy as np
    count = len(batch)
    probs = np.asarray(predict(stacked_views(batch)), dtype=np.float32)
    return probs.reshape(len(VIEWS), count, -1).mean(axis=0)


def predict_in_batches(predict, images, batch_size=32, tta=True):
    """Probabilities of many images, ``batch_size`` at a time (an array-like, e.g. a memmap).

    Args:
        predict: as for :func:`mean_probabilities`.
        images: ``n x h x w x c`` pixels 0-255, at least one image; only one
            batch is read at a time.
        batch_size: images per call of ``predict`` (times the views with ``tta``).
        tta: average over the views, or predict the images as they are.

    Returns:
        ``n x classes`` float32 probabilities, in the order of ``images``.
    """
    import numpy as np
    from vergeml.models.imagenet.training.pipeline import take_rows
    parts = []
    for start in range(0, len(images), batch_size):
        # take_rows: a memmap's pages read are released, so a large test split never
        # stays resident.
        batch = take_rows(images, np.arange(start, min(start + batch_size, len(images))))
        parts.append(mean_probabilities(predict, batch) if tta
                     else np.asarray(predict(batch), dtype=np.float32))
    return np.concatenate(parts, axis=0)


def _resize_axis(array, axis, size):
    """Linear interpolation of ``array`` to ``size`` along ``axis`` (pixel centres aligned,
    as ``tf.image.resize`` and Pillow's bilinear without antialiasing, which an
    upscale does not need)."""
    import numpy as np
    length = array.shape[axis]
    if length == size:
        return array
    position = np.clip((np.arange(size) + 0.5) * length / size - 0.5, 0, length - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, length - 1)
    shape = [1] * array.ndim
    shape[axis] = size
    weight = (position - low).astype(np.float32).reshape(shape)
    return np.take(array, low, axis) * (1 - weight) + np.take(array, high, axis) * weight
