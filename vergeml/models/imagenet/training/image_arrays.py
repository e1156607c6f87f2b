"""Decoded training images of phase 2 and the test evaluation of a fine-tuned run.

Images are decoded and resized once into the project cache (keyed like the
features by content digest, size and resize mode), so fine-tune epochs never
decode a JPEG twice and a second run with nothing changed decodes nothing.
"""
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from vergeml import faults


def image_stage(size, resize):
    """The cache stage of decoded images fitted to ``size`` with ``resize`` (uint8)."""
    return f"images:{size}:{resize}"


def cached_images(dataset, samples, size, resize, cache, progress=True):
    """uint8 images ``(n, size, size, 3)`` of samples, decoding only what the cache lacks.

    Args:
        dataset: the :class:`vergeml.data.Dataset`.
        samples: its samples, in the order wanted.
        size: input size of the backbone.
        resize: resize mode.
        cache: an open :class:`vergeml.data.Cache`.
        progress: show a progress bar while decoding.
    """
    from tqdm import tqdm
    stage = image_stage(size, resize)
    found = cache.get_many(stage, [s.key for s in samples])
    missing = list({s.key: s for s in samples if s.key not in found}.values())
    if missing:
        workers = min(8, os.cpu_count() or 1)
        with ThreadPoolExecutor(workers) as pool, \
                tqdm(total=len(missing), desc="Decoding images", unit="img", file=sys.stderr,
                     dynamic_ncols=True, disable=not progress) as bar:
            # PIL decodes outside the GIL: threads overlap the JPEG work.
            for sample, array in zip(missing, pool.map(
                    lambda s: dataset.load_array(s, size, resize), missing)):
                found[sample.key] = array
                cache.put(stage, sample.key, array)
                bar.update(1)
                faults.point("fine-tune.decode")
        cache.flush()
    if not samples:
        return np.zeros((0, size, size, 3), np.uint8)
    return np.stack([found[s.key] for s in samples]).astype(np.uint8, copy=False)


def split_images(dataset, split, size, resize):
    """uint8 images and labels of a split, through the image cache (its counts printed)."""
    samples = dataset.samples(split)
    with dataset.open_cache() as cache:
        images = cached_images(dataset, samples, size, resize, cache)
        print(f"{split} images {cache.summary(image_stage(size, resize), stale=False)}", flush=True)
    return images, np.array([s.label_index for s in samples], dtype="int64")



def predict_images(model, extractor, images, batch_size=64):
    """Class probabilities of uint8 images through the fused model (no augmentation)."""
    from vergeml.models.imagenet.training.pipeline import epoch_dataset, image_transform
    if not len(images):
        return np.zeros((0, model.output_shape[-1]), "float32")
    labels = np.zeros(len(images), "int64")
    data = epoch_dataset((images, labels), batch_size, 0, 0, 1, shuffle=False,
                         transform=image_transform(extractor.preprocess))
    return model.predict(data.map(lambda x, y: x), verbose=0)
