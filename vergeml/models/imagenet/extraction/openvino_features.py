"""Backbone features through OpenVINO (``ml train --runtime=openvino``).

The frozen Keras backbone of a :class:`FeatureExtractor` is converted once
behind its ``preprocess_input`` (uint8 pixels in; its traced ``tf.function``
-> ``openvino.convert_model``, saved uncompressed) into
``<cache>/openvino/<extractor key>-uint8/model.xml`` and compiled for the CPU
with ``INFERENCE_PRECISION_HINT=f32``: OpenVINO's default bf16/f16 on CPUs
that have it moves MobileNet features by about 20%. The pixels come from the
extractor's own loading threads (same decode and resize), so only the
preprocessing and forward pass differ; batches run on a ring of infer requests.
"""
import os
import shutil
import tempfile

from vergeml.runtimes import openvino_runtime as openvino_loader

RUNTIMES = ("tensorflow", "openvino")
# Never the CPU's bf16/f16 (see the module docstring).
COMPILE_CONFIG = {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_PRECISION_HINT": "f32"}
# Images per infer request. Small batches keep a request's activations in the CPU
# caches: MobileNet a0.25 at 224 px took 0.81 CPU-ms an image in batches of 8
# against 1.30 in batches of 64 here (2 cores, the forward pass alone).
REQUEST_BATCH = 8


def require_openvino(action="the openvino runtime", find_spec=None):
    """Raise a one-line error when the ``openvino`` extra is not installed."""
    from vergeml.runtimes.extras import require
    require("openvino", action, ["openvino"], find_spec)


def ir_path(cache_dir, key):
    """Where the converted backbone of the extractor ``key`` is kept (its input: uint8
    pixels, preprocessed inside the IR)."""
    return os.path.join(str(cache_dir), "openvino", f"{key}-uint8", "model.xml")


def convert_backbone(model, path, size):
    """Convert the Keras backbone ``model`` (uint8 pixels in) to OpenVINO IR at ``path``
    (once; atomic)."""
    if os.path.isfile(path):
        return path
    ov = openvino_loader.load()
    folder = os.path.dirname(path)
    os.makedirs(os.path.dirname(folder), exist_ok=True)
    work = tempfile.mkdtemp(prefix=".convert.", dir=os.path.dirname(folder))
    try:
        convert_keras(model, os.path.join(work, "ir", "model.xml"), size, "uint8", ov)
        try:
            os.replace(os.path.join(work, "ir"), folder)
        except OSError:  # another process converted it first
            if not os.path.isfile(path):
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return path


def convert_keras(model, path, size, dtype, ov=None):
    """Keras model -> uncompressed IR at ``path``, batch dimension free.

    OpenVINO converts the model's traced ``tf.function`` in memory: half the
    time of a SavedModel written to disk and read back (ResNet-50: 5 vs 11 s
    here), the same graph.
    """
    import contextlib
    import io
    import warnings

    import tensorflow as tf
    if ov is None:
        ov = openvino_loader.load()
    forward = tf.function(lambda images: model(images, training=False))
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        traced = forward.get_concrete_function(tf.TensorSpec((None, size, size, 3), dtype))
        converted = ov.convert_model(traced)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    ov.save_model(converted, path, compress_to_fp16=False)
    return path


def compile_ir(path, threads=None):
    """The IR compiled for the CPU in f32."""
    ov = openvino_loader.load()
    config = dict(COMPILE_CONFIG)
    if threads:
        config["INFERENCE_NUM_THREADS"] = int(threads)
    return ov.Core().compile_model(path, "CPU", config)


def iter_ordered(compiled, batches, jobs=0):
    """Run ``(tag, array)`` batches on a ring of infer requests; yield ``(tag, output)`` in order.

    Several requests run at once (OpenVINO's optimal number, or ``jobs``) while the
    caller prepares the next batch. There is no Python callback on purpose: with
    ``AsyncInferQueue.set_callback`` OpenVINO's stream threads take the GIL, and a
    compiled model destroyed just after the last batch deadlocked (its destructor
    joins those threads while holding the GIL; seen on openvino 2026.4.1). Waiting
    on a request releases the GIL, so nothing else changes.

    Do not call ``compiled(...)`` (its synchronous request) on the same compiled model
    first: on openvino 2026.4.1 with a dynamic batch, requests created after it returned
    other batches' outputs (measured; a fresh compile is unaffected).
    """
    import collections

    import numpy as np
    count = jobs or int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    free = [compiled.create_infer_request() for _ in range(max(1, count))]
    pending = collections.deque()  # (request, tag, input): oldest first
    try:
        for tag, batch in batches:
            if not free:
                request, done_tag, _ = pending.popleft()
                yield done_tag, _output(request)
                free.append(request)
            request = free.pop()
            # Shared with the request, not copied: kept alive (in ``pending``) until
            # the request is done with it. Callers must not reuse a batch's buffer.
            data = np.ascontiguousarray(batch)
            request.start_async({0: data}, share_inputs=True)
            pending.append((request, tag, data))
        while pending:
            request, tag, _ = pending.popleft()
            yield tag, _output(request)
    finally:
        for request, _, _ in pending:  # stopped early: no request outlives its input
            request.wait()


def _output(request):
    """The first output of a started request, once it is done (a copy)."""
    request.wait()
    return request.get_output_tensor(0).data.copy()


def iter_features(extractor, items, load_fn, batch_size=64):
    """:meth:`FeatureExtractor.iter_features` through OpenVINO (same arguments and yields).

    Each loaded batch runs as requests of :data:`REQUEST_BATCH` images and is
    yielded whole again, so callers see the same batches as with TensorFlow.
    """
    import contextlib

    import numpy as np
    require_openvino()
    compiled = extractor.openvino_model()
    # uint8 batches: the IR preprocesses (a quarter of the bytes to copy).
    with contextlib.closing(extractor.pixel_batches(items, load_fn, batch_size)) as batches:
        parts = []
        for (indices, last), out in iter_ordered(compiled, split_batches(batches, REQUEST_BATCH)):
            parts.append(out)
            if last:
                yield indices, np.concatenate(parts).astype(np.float32, copy=False)
                parts = []


def split_batches(batches, size):
    """``(indices, pixels)`` batches as pieces of at most ``size`` images for
    :func:`iter_ordered`: ``((indices, is_last_piece), pixels[start:stop])``.

    The pieces are views of the batch (no copy); the batch's indices ride on each.
    """
    for indices, pixels in batches:
        for start in range(0, len(pixels), size):
            yield (indices, start + size >= len(pixels)), pixels[start:start + size]
