"""The feature cache shared by ``ml train`` and ``ml preprocess``.

Backbone features are stored per sample under a stage key naming the
extractor (architecture, size, alpha, output layer, weights digest) and the
resize mode, so each command reuses what the other extracted.
"""
import sys

import numpy as np

from vergeml import faults

SPLITS = ("train", "val", "test")


def cached_features(dataset, extractor, args, settings=None):
    """Features and labels of every split, extracting only what the cache lacks.

    Returns:
        dict split -> ``(x, y)`` with x float32 (n, dim) and y int (n,).
    """
    stage = feature_stage(extractor, args["resize"])
    result = {}
    with dataset.open_cache() as cache:
        everything = [s for split in SPLITS for s in dataset.samples(split)]
        vectors = sample_features(dataset, extractor, everything, args["resize"], cache,
                                  settings=settings)
        print(cache.summary(stage))
        faults.point("extraction.done")
        cache.prune(stage)  # every split's keys were requested: what is left over is stale
        for split in SPLITS:
            samples = dataset.samples(split)
            x = np.stack([vectors[s.key] for s in samples]).astype("float32") if samples \
                else np.zeros((0, extractor.dim), "float32")
            result[split] = (x, np.array([s.label_index for s in samples], dtype="int64"))
    return result


def feature_stage(extractor, resize):
    """The cache stage of an extractor's features of images fitted with ``resize``.

    OpenVINO features are their own stage (``...:openvino``): within 1e-4 of
    TensorFlow's, not equal. TensorFlow keeps the stage it always had.
    """
    runtime = getattr(extractor, "runtime", "tensorflow")
    suffix = "" if runtime == "tensorflow" else f":{runtime}"
    return f"features:{extractor.key}:{resize}{suffix}"


def sample_features(dataset, extractor, samples, resize, cache, settings=None, progress=True):
    """Feature vectors of samples, extracting only what the cache lacks.

    Shared by ``ml train`` and ``ml preprocess``, so each reuses the other's features.

    Args:
        dataset: the :class:`vergeml.data.Dataset` the samples belong to.
        extractor: a :class:`FeatureExtractor`.
        samples: list of samples (any splits; repeated keys are extracted once).
        resize: how images are fitted to the input size.
        cache: an open :class:`vergeml.data.Cache`.
        settings: resolved global options: ``--device`` ... for loading TensorFlow,
            ``--engine`` and ``--ray-address`` for where to extract (local: this
            process; ray: :mod:`.ray_engine`, into this same cache).
        progress: show a progress bar while extracting.

    Returns:
        dict sample key -> float32 vector.
    """
    from tqdm import tqdm
    stage = feature_stage(extractor, resize)
    found = cache.get_many(stage, [s.key for s in samples])
    unique = list({s.key: s for s in samples if s.key not in found}.values())
    if not unique:
        return found
    batches = _engine_batches(dataset, extractor, unique, resize, cache, settings or {})
    with tqdm(total=len(unique), desc="Extracting features", unit="img", file=sys.stderr,
              dynamic_ncols=True, disable=not progress) as bar:
        try:
            for indices, batch in batches:
                for index, vector in zip(indices, batch):
                    found[unique[index].key] = vector
                    cache.put(stage, unique[index].key, vector)
                bar.update(len(indices))
                faults.point("extraction.batch")
        finally:
            cache.flush()  # Ctrl-C or a failure keeps every batch that was finished
            close = getattr(batches, "close", None)  # a generator: stop the engine now
            if close is not None:                    # (Ray: end the job), not at exit
                close()
    return found


def _engine_batches(dataset, extractor, samples, resize, cache, settings):
    """``(indices, features)`` batches of ``samples`` from the engine ``--engine`` names."""
    if settings.get("engine") == "ray":
        from vergeml.models.imagenet.extraction import ray_cluster
        from vergeml.models.imagenet.extraction import ray_engine
        ray_cluster.require_ray()  # before the progress bar shows
        return ray_engine.iter_features(dataset, extractor, samples, resize,
                                        address=settings.get("ray-address") or "auto")
    from vergeml.runtimes import tensorflow_setup as backend
    backend.load(settings)  # TensorFlow only when something is extracted
    load = lambda s: dataset.load_array(s, extractor.size, resize, cache)  # noqa: E731
    return extractor.iter_features(samples, load, batch_size=64)
