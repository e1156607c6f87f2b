"""The loading threads of feature extraction (``pixel_batches``): order, errors, early stop."""
import threading
import time

import numpy as np
import pytest

from vergeml.errors import VergeMLError
from vergeml.models.imagenet.pixel_batches import AHEAD, iter_pixel_batches

SHAPE = (4, 4, 3)


def pixels(value):
    return np.full(SHAPE, value, np.uint8)


def test_batches_come_in_order_whatever_order_the_threads_finish():
    def load(item):
        time.sleep(0.002 * (item % 3))  # later items often finish first
        return pixels(item)
    got = list(iter_pixel_batches(list(range(10)), load, 4, SHAPE, workers=3))
    assert [indices.tolist() for indices, _ in got] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    for indices, batch in got:
        assert batch.dtype == np.uint8 and batch.shape == (len(indices), *SHAPE)
        assert batch[:, 0, 0, 0].tolist() == indices.tolist()


def test_no_items_no_batches():
    assert list(iter_pixel_batches([], pixels, 4, SHAPE)) == []


def test_a_load_error_surfaces_unchanged_at_its_batch():
    def load(item):
        if item == 5:
            raise FileNotFoundError("no such image: 5")
        return pixels(item)
    batches = iter_pixel_batches(list(range(10)), load, 4, SHAPE, workers=2)
    assert next(batches)[0].tolist() == [0, 1, 2, 3]  # the batch before it is fine
    with pytest.raises(FileNotFoundError, match="no such image: 5"):
        next(batches)


def test_a_wrong_shape_names_the_item_and_both_shapes():
    with pytest.raises(VergeMLError, match=r"shape \(8, 8, 3\) for item 0, expected \(4, 4, 3\)"):
        list(iter_pixel_batches([0], lambda item: np.zeros((8, 8, 3), np.uint8), 4, SHAPE))


def test_only_a_few_batches_are_loaded_ahead():
    loaded = []
    lock = threading.Lock()

    def load(item):
        with lock:
            loaded.append(item)
        return pixels(item)
    batches = iter_pixel_batches(list(range(100)), load, 4, SHAPE, workers=2)
    next(batches)
    time.sleep(0.05)  # let the threads run as far as they are allowed to
    assert len(loaded) <= (AHEAD + 1) * 4
    batches.close()


def test_closing_early_cancels_the_rest_and_waits_for_running_loads():
    started, running = [], []
    release = threading.Event()

    def load(item):
        started.append(item)
        if item >= 4:
            running.append(item)
            release.wait(5)
            running.remove(item)
        return pixels(item)
    batches = iter_pixel_batches(list(range(40)), load, 4, SHAPE, workers=2)
    next(batches)
    threading.Timer(0.05, release.set).start()
    batches.close()  # returns only once no load is running
    assert running == []
    assert len(started) < 40
