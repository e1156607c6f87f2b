"""What runs on the Ray cluster for ``--engine=ray``: the file reads and the feature actor.

:func:`read_files` runs as Ray Data tasks pinned to the driver's node, so
the samples need not be on a shared file system. :class:`FeatureActor` is
the ``map_batches`` callable class: each actor builds the backbone once,
from the same :class:`FeatureExtractor` definition as the local engine and
the bytes of the same weights file, then turns batches of image bytes into
feature vectors through the local engine's own decoding
(:class:`vergeml.data.processing.Processing`) and forward pass
(:meth:`FeatureExtractor.extract`).
"""
import os
import shutil
import tempfile
from dataclasses import dataclass

from vergeml.errors import VergeMLError
from vergeml.fileutil import atomic_write_bytes
from vergeml.models.imagenet.extraction.features import FeatureExtractor


def read_files(batch):
    """Ray Data task: each row's file bytes, checked against the digest of its cache key.

    Args:
        batch: columns ``index``, ``file``, ``digest``, ``relpath``, ``split``, ``variant``.

    Returns:
        the batch with ``data`` (the bytes) instead of ``file`` and ``digest``.
    """
    import numpy as np

    from vergeml.data.processing import read_checked
    data = [read_checked(path, digest, relpath) for path, digest, relpath
            in zip(batch["file"], batch["digest"], batch["relpath"])]
    rows = {key: batch[key] for key in ("index", "relpath", "split", "variant")}
    rows["data"] = np.array(data, dtype=object)
    return rows


@dataclass(frozen=True)
class BackboneSpec:
    """What an actor needs to build the driver's backbone: plain values, no Keras object.

    Args:
        architecture: the backbone's table name.
        size: resolved input size.
        alpha: resolved width multiplier.
        output_layer: as the extractor has it.
        seed: the extractor's seed (random weights are built from it).
        runtime: ``tensorflow`` or ``openvino``.
        weights_name: the weights file's name (its extension picks Keras' reader),
            or None for random weights.
    """

    architecture: str
    size: int
    alpha: float
    output_layer: object
    seed: object
    runtime: str
    weights_name: str = None

    @classmethod
    def of(cls, extractor):
        """The spec of a :class:`FeatureExtractor`.

        Raises:
            VergeMLError: random weights without a seed (each actor would draw its own).
        """
        path = extractor.weights_path()
        if path is None and extractor.seed is None:
            raise VergeMLError("--engine=ray with weights none needs a random seed, so that "
                               "every actor builds the same random backbone")
        return cls(extractor.backbone.name, extractor.size, extractor.alpha, extractor.output_layer,
                   extractor.seed, extractor.runtime, os.path.basename(path) if path else None)

    def build(self, weights_file=None):
        """The extractor, its network built, with weights from ``weights_file``."""
        extractor = FeatureExtractor(self.architecture, size=self.size, alpha=self.alpha,
                                     weights=weights_file or "none", output_layer=self.output_layer,
                                     seed=self.seed, runtime=self.runtime)
        extractor.model  # noqa: B018 (build now, while the weights file exists)
        return extractor


# Seconds a finished actor's process has to exit before SIGALRM ends it. Python's exit
# can hang with TensorFlow loaded (seen in the loopback tests: Ray's core worker shut
# down cleanly, the process stayed, 800 MB); the raylet no longer watches a worker that
# said goodbye, so nothing else would ever end it.
EXIT_GRACE = 30


class FeatureActor:
    """The ``map_batches`` callable class: image bytes in, feature vectors out.

    Args:
        spec: the :class:`BackboneSpec`.
        weights: ``[ObjectRef]`` of the weights file's bytes, put in the object
            store once by the driver (the actor takes them with ``ray.get``), or None.
        processing: the data set's :class:`~vergeml.data.processing.Processing`.
        size: the input size images are fitted to.
        resize: the resize mode.
        threads: TensorFlow's intra-op threads (the CPUs the actor reserved).
    """

    def __init__(self, spec, weights, processing, size, resize, threads):
        import ray

        from vergeml.runtimes import tensorflow_setup as backend
        tf = backend.load({"device": "cpu"})[0]
        # Before any op runs, or TensorFlow sizes its pools by the machine's cores
        # and every actor on a node fights for all of them.
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(min(2, int(threads)))
        self.extractor = _build(spec, ray.get(weights[0]) if weights else None)
        self.processing, self.size, self.resize = processing, size, resize
        self.node = ray.get_runtime_context().get_node_id()
        self.pid = os.getpid()

    def __call__(self, batch):
        """Features of one batch.

        Args:
            batch: columns ``index``, ``data``, ``relpath``, ``split``, ``variant``.

        Returns:
            columns ``index``, ``features`` (float32, n x dim), ``node`` and ``pid``
            (which actor did the work).
        """
        import numpy as np
        images = np.stack([
            self.processing.array(data, relpath, split, int(variant), self.size, self.resize)
            for data, relpath, split, variant
            in zip(batch["data"], batch["relpath"], batch["split"], batch["variant"])])
        features = self.extractor.extract(images, batch_size=len(images))
        count = len(images)
        return {"index": np.asarray(batch["index"], dtype=np.int64), "features": features,
                "node": np.full(count, self.node), "pid": np.full(count, self.pid, dtype=np.int64)}

    def __del__(self):
        """Arm the exit watchdog: Ray Data drops its UDF only when the actor exits gracefully."""
        import signal
        if signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None):
            signal.alarm(EXIT_GRACE)  # default action: the kernel ends the process


def _build(spec, weights_bytes):
    """Build the backbone from the weights' bytes, written to a folder of this actor's own."""
    if weights_bytes is None:
        return spec.build()
    folder = tempfile.mkdtemp(prefix="vergeml-ray-weights-")
    try:
        path = os.path.join(folder, spec.weights_name)
        atomic_write_bytes(path, weights_bytes)
        return spec.build(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the network holds the weights now
