"""Backbone features on a Ray cluster (``--engine=ray``): the driver's side.

:func:`iter_features` stands in for :meth:`FeatureExtractor.iter_features`
in :func:`vergeml.models.imagenet.extraction.feature_cache.sample_features`, which
keeps the cache, the keys and the progress bar. The pipeline is one
streaming Ray Data job::

    from_items(missing samples: index, file, digest ...)      the driver
    -> map_batches(read_files)                                tasks on the driver's node
    -> map_batches(FeatureActor, compute=ActorPoolStrategy)   actors on every node
    -> iter_batches                                           the driver, into the cache

Only file names travel out and bytes travel in from the driver's node, so
the cluster needs no shared file system, and memory stays bounded however
many samples there are (the reads stream with the rest). A batch reaches
the driver only when an actor finished all of it: a worker killed mid-batch
is restarted and the batch retried (:data:`ACTOR_RETRIES`), and the cache
never sees a part of it.
"""
import logging
import queue
import sys
import threading
import warnings
from collections import Counter
from typing import NamedTuple

from vergeml.errors import VergeMLError
from vergeml.models.imagenet.extraction import ray_cluster

BATCH_SIZE = 32
# Seconds without a finished batch before the run gives up on the cluster
# (no actor could be placed, a node hangs ...).
STALL_TIMEOUT = 600.0
# Seconds for every actor of the pool to start (import TensorFlow, build the backbone).
ACTOR_START_TIMEOUT = 300
# Restarts of a killed actor process, and retries of the batches it held: bounded,
# so an image that kills its worker every time fails the run instead of looping.
ACTOR_RETRIES = 3
# Ray >= 2.60 warns that per-call remote args are deprecated, but has no named
# parameter for actor restarts and task retries yet.
_REMOTE_ARGS_WARNING = r"`ray_remote_args` is deprecated"


class RayBatch(NamedTuple):
    """One finished batch: positions in the samples, their features, who computed them."""

    indices: object
    features: object
    nodes: object
    pids: object


def iter_features(dataset, extractor, samples, resize, address="auto", batch_size=BATCH_SIZE,
                  stall_timeout=STALL_TIMEOUT):
    """Features of ``samples`` computed on the cluster, as ``(indices, features)`` batches.

    Same yields as :meth:`FeatureExtractor.iter_features` (in any order); prints
    which nodes did the work at the end. Arguments as for :func:`iter_batches`.
    """
    nodes = Counter()
    for batch in iter_batches(dataset, extractor, samples, resize, address, batch_size,
                              stall_timeout):
        nodes.update(str(node)[:8] for node in batch.nodes)
        yield batch.indices, batch.features
    if nodes:
        from tqdm import tqdm
        shares = ", ".join(f"{node} {count:,}" for node, count in nodes.most_common())
        # tqdm.write: above the caller's progress bar, not through it.
        tqdm.write(f"Ray: {sum(nodes.values()):,} images on {len(nodes)} node(s) ({shares})",
                   file=sys.stdout)


def iter_batches(dataset, extractor, samples, resize, address="auto", batch_size=BATCH_SIZE,
                 stall_timeout=STALL_TIMEOUT):
    """Run the pipeline on the cluster at ``address``; yield its batches as they finish.

    Args:
        dataset: the :class:`vergeml.data.Dataset` of the samples.
        extractor: the driver's :class:`FeatureExtractor` (its definition and
            weights file are what the actors build).
        samples: the samples to extract (each once).
        resize: how images are fitted to the input size.
        address: ``auto`` or ``HOST:PORT`` of the head node.
        batch_size: images per actor call (the unit of retries).
        stall_timeout: seconds to wait for a batch before giving up.

    Yields:
        :class:`RayBatch`, ``indices`` into ``samples``.

    Raises:
        VergeMLError: no Ray, no cluster, a failed or stalled job, or a bad image
            (the error the worker raised).
    """
    if not samples:
        return
    with ray_cluster.connected(address) as ray:
        plan = ray_cluster.cluster_plan(ray)
        data = _pipeline(ray, dataset, extractor, samples, resize, plan, batch_size)
        width = None
        for block in _pumped(data, stall_timeout):
            batch = checked_batch(block, len(samples), width)
            width = batch.features.shape[1]
            yield batch


def checked_batch(block, count, width=None):
    """A :class:`RayBatch` from an output block, refused unless it is whole.

    Args:
        block: mapping of numpy columns ``index``, ``features``, ``node``, ``pid``.
        count: how many samples were sent (indices must be below it).
        width: the feature length of earlier batches (None: the first batch).

    Raises:
        VergeMLError: columns of different lengths, a bad index or feature length.
    """
    import numpy as np
    indices = np.asarray(block["index"], dtype=np.int64)
    features = np.asarray(block["features"], dtype=np.float32)
    lengths = {len(block[key]) for key in ("index", "features", "node", "pid")}
    if len(lengths) != 1 or features.ndim != 2:
        raise VergeMLError(f"the Ray cluster returned an incomplete batch (columns of "
                           f"{sorted(lengths)} rows, features {features.shape})")
    if indices.size and (indices.min() < 0 or indices.max() >= count):
        raise VergeMLError("the Ray cluster returned features of samples it was not sent")
    if width is not None and features.shape[1] != width:
        raise VergeMLError(f"the Ray cluster returned features of length {features.shape[1]}, "
                           f"earlier batches had {width}")
    return RayBatch(indices, features, np.asarray(block["node"]), np.asarray(block["pid"]))


def sample_rows(dataset, samples):
    """The rows the driver hands to Ray Data, and whether they still need reading.

    File samples travel as names (read on the driver's node by
    :func:`ray_worker.read_files`); samples of a source without files carry
    their image, encoded here.

    Returns:
        ``(rows, reads)``: list of dicts, and True when the rows name files.
    """
    reads = dataset.config.source.reads_files
    rows = []
    for index, sample in enumerate(samples):
        row = {"index": index, "relpath": sample.relpath, "split": sample.split,
               "variant": sample.variant}
        if reads:
            row.update(file=sample.file, digest=sample.digest)
        else:
            row["data"] = dataset.read_bytes(sample)
        rows.append(row)
    return rows, reads


def _pipeline(ray, dataset, extractor, samples, resize, plan, batch_size):
    """The lazy Ray Data dataset of the features of ``samples``."""
    from vergeml.models.imagenet.extraction.ray_worker import BackboneSpec, FeatureActor, read_files
    _configure_ray_data(ray)
    rows, reads = sample_rows(dataset, samples)
    data = ray.data.from_items(rows)
    if reads:
        # The driver's node is the one that has the files.
        data = data.map_batches(read_files, batch_size=batch_size, num_cpus=ray_cluster.READ_CPUS,
                                label_selector={"ray.io/node-id": plan.driver_node})
    weights, path = None, extractor.weights_path()
    if path:  # the bytes, put once in the object store: nodes need not have the file
        with open(path, "rb") as handle:
            weights = [ray.put(handle.read())]
    actor_args = {"spec": BackboneSpec.of(extractor), "weights": weights,
                  "processing": dataset.processing, "size": extractor.size, "resize": resize,
                  "threads": plan.threads}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_REMOTE_ARGS_WARNING, category=DeprecationWarning)
        return data.map_batches(FeatureActor, batch_size=batch_size, num_cpus=plan.actor_cpus,
                                compute=ray.data.ActorPoolStrategy(size=plan.size),
                                fn_constructor_kwargs=actor_args, max_restarts=ACTOR_RETRIES,
                                max_task_retries=ACTOR_RETRIES)


def _configure_ray_data(ray):
    """Every actor up before the first batch (bounded), and no Ray Data progress bars or
    INFO lines on the console: the driver shows its own bar."""
    context = ray.data.DataContext.get_current()
    # Without it the first actor up takes every batch of a small job, and a pool
    # that cannot be placed would wait forever.
    context.wait_for_min_actors_s = ACTOR_START_TIMEOUT
    context.enable_progress_bars = False
    for handler in logging.getLogger("ray.data").handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            handler.setLevel(logging.ERROR)  # its log file keeps everything


def _pumped(data, stall_timeout):
    """The output blocks of ``data``, taken by a thread, so every wait here has a timeout.

    The main thread only waits on a queue (interruptible: Ctrl-C is seen at once).
    Cut short (Ctrl-C, a stall, the caller stopped), it leaves the thread behind:
    the caller's disconnect then ends the job at once, and quietly (closing Ray
    Data's iterator first would kill the actors one by one, and Ray prints each
    of their tasks on the console as failed).
    """
    out, stop = queue.Queue(maxsize=2), threading.Event()
    thread = threading.Thread(target=_pump, args=(data, out, stop), name="vergeml-ray-results",
                              daemon=True)
    thread.start()
    ended = False  # the thread is done: it sent "done" or "error"
    try:
        while True:
            try:
                kind, item = out.get(timeout=stall_timeout)
            except queue.Empty:
                raise VergeMLError(f"the Ray cluster finished no batch in {stall_timeout:g} s; "
                                   "see its logs under /tmp/ray/session_latest/logs") from None
            ended = kind != "batch"
            if kind == "error":
                raise worker_error(item) from None
            if ended:
                return
            yield item
    finally:
        stop.set()
        if ended:
            thread.join(timeout=5.0)


def _pump(data, out, stop):
    """Thread body of :func:`_pumped`: put ``(kind, item)`` messages until done or stopped."""
    def put(message):
        while not stop.is_set():
            try:
                out.put(message, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    try:
        for block in data.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=1):
            if not put(("batch", block)):
                return
        put(("done", None))
    except Exception as err:  # noqa: BLE001 (handed to the main thread; after a stop, Ray is gone)
        put(("error", err))


def worker_error(err):
    """The error to show for a failed Ray job: the worker's own VergeMLError when it raised one
    (a bad image, a changed file), else one line naming the failure.

    Args:
        err: what Ray Data raised (a ``RayTaskError`` chain, ``ActorDiedError`` ...).
    """
    seen, pending = set(), [err]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        # Ray re-raises a worker's exception as a class deriving from both
        # RayTaskError and the original; the original (our module) is the clean one.
        if isinstance(current, VergeMLError) and type(current).__module__.startswith("vergeml"):
            return current
        pending += [getattr(current, "cause", None), current.__cause__, current.__context__]
    text = str(err).strip().splitlines()
    return VergeMLError(f"feature extraction on the Ray cluster failed: "
                        f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": "))
