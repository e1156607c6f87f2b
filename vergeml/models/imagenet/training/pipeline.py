"""The ``tf.data`` input pipelines of both training phases.

Batches are gathered by index from arrays: features in memory in phase 1,
decoded uint8 images memory-mapped from disk in phase 2 (:mod:`.image_arrays`),
read a batch at a time (:func:`take_rows`). Each epoch's order is a function
of the seed and the epoch number alone, so a resumed run continues with
exactly the batches the uninterrupted run would have seen.
"""
import math
import mmap

import numpy as np


def epoch_batches(count, batch_size, seed, first_epoch, last_epoch, shuffle=True):
    """Index batches for epochs ``first_epoch`` .. ``last_epoch - 1`` (0-based).

    Each epoch's order is fixed by ``(seed, epoch)`` alone, so a run resumed
    at epoch k sees exactly the batches an uninterrupted run would.
    """
    for epoch in range(first_epoch, last_epoch):
        order = np.random.default_rng([seed, epoch]).permutation(count) if shuffle \
            else np.arange(count)
        for start in range(0, count, batch_size):
            yield order[start:start + batch_size]


def take_rows(array, indices):
    """``array[indices]`` as a new in-memory array; from a memory-mapped array
    without leaving the pages read mapped.

    A page of a file mapping, once read, counts in the process's resident
    memory for as long as it stays mapped: an epoch over a memmap of 20,000
    images at 224 px would grow RSS by the whole 3 GB file, though the kernel
    may drop those pages any time. ``MADV_DONTNEED`` unmaps them after the copy
    (they stay in the page cache; the next read maps them again; another
    thread reading meanwhile just maps them again too), so RSS stays at about
    a batch. Measured on 8,000 rows at 224 px, in random order: 0.9 ms a batch
    of 32 with it, 1.1 ms without (``bench/bench_fine_tune_memory.py`` has the
    RSS); gathering in sorted order and un-permuting was 3x slower.

    Args:
        array: a numpy array or memmap.
        indices: int row indices.

    Returns:
        ``np.ndarray`` of ``len(indices)`` rows.
    """
    rows = np.asarray(array[indices])
    mapping = _mapping(array)
    if mapping is not None and hasattr(mmap, "MADV_DONTNEED"):
        mapping.madvise(mmap.MADV_DONTNEED)
    return rows


def _mapping(array):
    """The file mapping under a ``np.memmap`` (or a view of one), else None.

    Only a memmap's: ``MADV_DONTNEED`` on an anonymous mapping would zero its data.
    """
    base = array
    while isinstance(base, np.ndarray):
        if isinstance(base, np.memmap) and isinstance(base.base, mmap.mmap):
            return base.base
        base = base.base
    return None


def steps_per_epoch(count, batch_size):
    """Batches in one epoch."""
    return max(1, math.ceil(count / batch_size))


def epoch_dataset(arrays, batch_size, seed, first_epoch, last_epoch, shuffle=True, transform=None):
    """A ``tf.data`` pipeline of ``arrays`` batches for epochs ``first_epoch .. last_epoch - 1``.

    Args:
        arrays: ``(x, y)`` numpy arrays with the same first dimension; ``x`` may
            be a memmap (only each batch's rows are read, see :func:`take_rows`).
        batch_size: rows per batch.
        seed: fixes each epoch's order (see :func:`epoch_batches`).
        first_epoch: first epoch (0-based) the pipeline yields.
        last_epoch: the epoch after the last one.
        shuffle: shuffle each epoch (training) or keep the order (validation, test).
        transform: optional ``(x, y) -> (x, y)`` graph function applied per
            batch in parallel (preprocessing), or one from :func:`image_transform`
            with an augmenter: ``(x, y, key) -> (x, y)``, given the batch's number
            over the whole run and applied one batch after another.

    Returns:
        A dataset of known cardinality, so Keras neither guesses nor warns.
    """
    import tensorflow as tf
    x_all, y_all = arrays
    x_spec = tf.TensorSpec((None, *x_all.shape[1:]), tf.as_dtype(x_all.dtype))
    y_spec = tf.TensorSpec((None,), tf.as_dtype(y_all.dtype))

    def gather(indices):
        return take_rows(x_all, indices), y_all[indices]

    @tf.autograph.experimental.do_not_convert
    def fetch(indices, key):
        x, y = tf.numpy_function(gather, [indices], (x_spec.dtype, y_spec.dtype), stateful=False)
        x.set_shape(x_spec.shape)
        y.set_shape(y_spec.shape)
        return x, y, key
    per_epoch = -(-len(x_all) // batch_size)

    def keyed_batches():
        batches = epoch_batches(len(x_all), batch_size, seed, first_epoch, last_epoch, shuffle)
        return ((indices, first_epoch * per_epoch + number) for number, indices in enumerate(batches))
    dataset = tf.data.Dataset.from_generator(
        keyed_batches, output_signature=(tf.TensorSpec((None,), tf.int64), tf.TensorSpec((), tf.int64)))
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(
        per_epoch * max(0, last_epoch - first_epoch)))
    dataset = dataset.map(fetch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if getattr(transform, "keyed", False):
        # One batch at a time: the transform sets the augmenter's generator states,
        # which parallel calls would share.
        return dataset.map(transform).prefetch(tf.data.AUTOTUNE)
    dataset = dataset.map(lambda x, y, key: (x, y))
    if transform is not None:
        dataset = dataset.map(transform, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def image_transform(preprocess, augmenter=None):
    """The per-batch graph function: uint8 -> float32 -> augment (training only) -> preprocess.

    With an augmenter it takes the batch key too (see :func:`epoch_dataset`) and
    reseeds the augmenter from it (:func:`.augment.reseed`).
    """
    import tensorflow as tf

    @tf.autograph.experimental.do_not_convert
    def transform(images, labels):
        return preprocess(tf.cast(images, tf.float32)), labels
    if augmenter is None:
        return transform
    from vergeml.models.imagenet.training.augment import reseed

    @tf.autograph.experimental.do_not_convert
    def augment(images, labels, key):
        reseed(augmenter, key)
        return transform(augmenter(tf.cast(images, tf.float32), training=True), labels)
    augment.keyed = True
    return augment
