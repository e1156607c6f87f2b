"""The loading threads of feature extraction (``pixel_batches``): order, errors, early stop.

No test here sleeps or times anything: the threads are ordered with events,
and what the generator has queued is counted where it queues it, so a
verdict never depends on how fast or how loaded the machine is. (A bounded
``wait`` only keeps a broken build from hanging; it decides no verdict.)
"""
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from vergeml.errors import VergeMLError
from vergeml.models.imagenet.extraction import pixel_batches
from vergeml.models.imagenet.extraction.pixel_batches import AHEAD, iter_pixel_batches

HANG = 30  # seconds: only ever reached when the code under test is broken

SHAPE = (4, 4, 3)


def pixels(value):
    return np.full(SHAPE, value, np.uint8)


def test_batches_come_in_order_whatever_order_the_threads_finish():
    # Within each batch the loads finish last item first: item i waits for item i + 1.
    items, size = list(range(10)), 4
    done = {item: threading.Event() for item in items}
    finished = []

    def load(item):
        last = min((item // size + 1) * size, len(items)) - 1
        if item < last:
            assert done[item + 1].wait(HANG), f"item {item + 1} never finished"
        finished.append(item)
        done[item].set()
        return pixels(item)
    # As many threads as a batch has items: every load of a batch runs at once.
    got = list(iter_pixel_batches(items, load, size, SHAPE, workers=size))
    assert finished[:4] == [3, 2, 1, 0]  # the threads really did finish out of order
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


class CountingPool(ThreadPoolExecutor):
    """The real thread pool, counting the loads the generator queues and seeing it shut down."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.submitted = 0
        self.shutting_down = threading.Event()
        POOLS.append(self)

    def submit(self, *args, **kwargs):
        self.submitted += 1  # called by the generator's own thread: exact when next() returns
        return super().submit(*args, **kwargs)

    def shutdown(self, *args, **kwargs):
        self.shutting_down.set()
        return super().shutdown(*args, **kwargs)


POOLS = []


@pytest.fixture
def pool(monkeypatch):
    """The pool the next :func:`iter_pixel_batches` makes, as a :class:`CountingPool`."""
    POOLS.clear()
    monkeypatch.setattr(pixel_batches, "ThreadPoolExecutor", CountingPool)
    return lambda: POOLS[-1]


def test_only_a_few_batches_are_loaded_ahead(pool):
    size, loaded = 4, []
    lock = threading.Condition()

    def load(item):
        with lock:
            loaded.append(item)
            lock.notify_all()
        return pixels(item)
    batches = iter_pixel_batches(list(range(100)), load, size, SHAPE, workers=2)
    for taken in (1, 2, 3):
        assert next(batches)[0][0] == (taken - 1) * size
        # The generator is suspended: nothing more is queued until the next next().
        queued = pool().submitted
        assert size * taken < queued <= size * (taken + AHEAD), (taken, queued)
        with lock:  # every queued load runs (ahead of use), and no other
            assert lock.wait_for(lambda queued=queued: len(loaded) >= queued, HANG), (queued, loaded)
            assert sorted(loaded) == list(range(queued))
    batches.close()


def test_closing_early_cancels_the_rest_and_waits_for_running_loads(pool):
    started, running, log = [], [], []
    lock = threading.Condition()
    closed = threading.Event()

    def load(item):
        with lock:
            started.append(item)
        if item >= 4:
            with lock:
                running.append(item)
                lock.notify_all()
            # Held until the pool is being shut down; then given the time to see
            # close() return (it must not) before ending.
            assert pool().shutting_down.wait(HANG), "the pool was never shut down"
            closed.wait(1)
            with lock:
                running.remove(item)
                log.append(f"load {item} ended")
        return pixels(item)
    batches = iter_pixel_batches(list(range(40)), load, 4, SHAPE, workers=2)
    next(batches)
    with lock:  # both threads are inside a load of the next batch
        assert lock.wait_for(lambda: len(running) == 2, HANG), running
    batches.close()  # returns only once no load is running
    log.append("closed")
    closed.set()
    assert running == []
    assert log[-1] == "closed" and len(log) == 3, log
    assert len(started) < 40
