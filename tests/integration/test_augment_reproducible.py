"""Issue 30 item 7: fine-tuning with augmentation repeats with the same seed.

Keras' augmentation layers draw from generators that advance with every draw;
run in the parallel calls of a ``tf.data`` map, they advanced in whatever
order the threads ran, so the same seed augmented differently. Each batch is
now augmented from (layer seed, batch number) alone.
"""
import numpy as np
import pytest

from vergeml.models.imagenet.training.augment import AUTO_AUGMENT, build_augmenter, parse_augment
from vergeml.models.imagenet.training.pipeline import epoch_dataset, image_transform

BATCH, EPOCHS = 4, 2


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (48, 24, 24, 3), dtype=np.uint8)
    return images, np.arange(48) % 3


def batches(arrays, seed, first_epoch=0, pairs=AUTO_AUGMENT):
    """Every batch a fresh augmenter (as a new process builds it) gives, as numpy."""
    augmenter = build_augmenter(parse_augment(pairs), seed)
    data = epoch_dataset(arrays, BATCH, 7, first_epoch, EPOCHS,
                         transform=image_transform(lambda x: x, augmenter))
    return [(x.numpy(), y.numpy()) for x, y in data]


def test_the_same_seed_augments_every_batch_alike(arrays):
    first, second = batches(arrays, 5), batches(arrays, 5)
    assert len(first) == EPOCHS * 12
    for (x1, y1), (x2, y2) in zip(first, second, strict=True):
        np.testing.assert_array_equal(y1, y2)
        np.testing.assert_array_equal(x1, x2)


def test_another_seed_augments_otherwise(arrays):
    first, other = batches(arrays, 5), batches(arrays, 6)
    assert any(np.abs(a[0] - b[0]).max() > 1 for a, b in zip(first, other))
    plain = epoch_dataset(arrays, BATCH, 7, 0, EPOCHS, transform=image_transform(lambda x: x))
    for (x, y), (p, q) in zip(first, plain, strict=True):
        np.testing.assert_array_equal(y, q.numpy())   # the same batches, augmented
        assert np.abs(x - p.numpy()).max() > 1


def test_a_resumed_run_augments_its_epochs_as_the_uninterrupted_run(arrays):
    uninterrupted = batches(arrays, 5)
    resumed = batches(arrays, 5, first_epoch=1)
    assert len(resumed) == 12
    for (x1, _), (x2, _) in zip(uninterrupted[12:], resumed, strict=True):
        np.testing.assert_array_equal(x1, x2)
