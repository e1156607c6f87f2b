"""Benchmark feature extraction: ``FeatureExtractor.iter_features`` vs plain ``model.predict``.

For each backbone, in one run and on the same images:

* ``predict``: ``model.predict(preprocess(arrays))`` on already-decoded
  uint8 arrays (preprocessing included, so both sides do the same work);
* ``iter (arrays)``: ``iter_features`` with a ``load_fn`` that returns the
  same decoded arrays;
* ``iter (resize)``: ``iter_features`` with a ``load_fn`` that upscales the
  8x8 source image with PIL, as a real run decodes and resizes.

Images are scikit-learn's handwritten digits upscaled. Each timing is the
best of ``--repeat`` interleaved passes after a two-batch warm-up (tracing).
Backbones: mobilenet alpha 0.25 at 128 px with the real ImageNet weights from
``/work/shared/weights`` (or ``--weights-dir``; random weights when the file
is absent), and resnet-50 at 224 px with random weights.

Usage: python bench/bench_extract.py [--mobilenet-count N] [--resnet-count N] [--repeat K]
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

SHARED_WEIGHTS = "/work/shared/weights"
MOBILENET_FILE = "mobilenet_2_5_224_tf_no_top.h5"


def digits(count):
    """``count`` 8x8 digit images as uint8 (0..255), repeating the set if needed."""
    from sklearn.datasets import load_digits
    images = load_digits().images
    images = np.resize(images, (count, 8, 8))
    return (images * (255.0 / 16.0)).round().astype(np.uint8)


def upscale(image, size):
    """One 8x8 grey image -> (size, size, 3) uint8 RGB, as a loader would."""
    from PIL import Image
    picture = Image.fromarray(image, mode="L").resize((size, size), Image.BILINEAR)
    return np.asarray(picture.convert("RGB"))


def best_rates(runs, count, repeat):
    """Images per second of each run's fastest call.

    Calls are interleaved (a, b, c, a, b, c ...) so that load from other
    processes on a shared machine hits every contender alike.
    """
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: count / seconds for name, seconds in best.items()}


def bench(extractor, sources, batch_size, repeat):
    """Measure the three ways for one extractor; returns dict name -> images/s."""
    size = extractor.size
    arrays = np.stack([upscale(image, size) for image in sources])
    model = extractor.model

    def plain(n=len(arrays)):
        model.predict(extractor.preprocess(arrays[:n]), batch_size=batch_size, verbose=0)

    def from_arrays(n=len(arrays)):
        for _ in extractor.iter_features(arrays[:n], lambda a: a, batch_size):
            pass

    def from_sources(n=len(sources)):
        for _ in extractor.iter_features(sources[:n], lambda s: upscale(s, size), batch_size):
            pass

    # Warm-up (tracing) on two batches, and a correctness check.
    warm = batch_size + 3
    for run in (plain, from_arrays, from_sources):
        run(warm)
    check = extractor.extract(arrays[:warm], batch_size)
    reference = model.predict(extractor.preprocess(arrays[:warm]), verbose=0)
    assert np.allclose(check, reference, atol=1e-4), "iter_features differs from predict"
    runs = {"predict": plain, "iter (arrays)": from_arrays, "iter (resize)": from_sources}
    return best_rates(runs, len(arrays), repeat)


def report(title, rates):
    base = rates["predict"]
    print(f"\n{title}")
    for name, rate in rates.items():
        print(f"  {name:14s} {rate:8.1f} img/s   x{rate / base:.2f} of predict")


def mobilenet_weights(weights_dir):
    """The shared ImageNet file as a weights path (any size loads it), else 'none'."""
    path = os.path.join(weights_dir, MOBILENET_FILE)
    return path if os.path.isfile(path) else "none"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mobilenet-count", type=int, default=512)
    parser.add_argument("--resnet-count", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--weights-dir", default=SHARED_WEIGHTS)
    args = parser.parse_args(argv)
    from vergeml import backend
    backend.load()  # import TensorFlow quietly, as ml does

    # An empty Keras home: nothing is read from or downloaded to ~/.keras.
    keras_home = tempfile.mkdtemp(prefix="bench-keras-")
    os.environ["KERAS_HOME"] = keras_home
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from vergeml.models.imagenet.features import FeatureExtractor
    try:
        # Passed as a path, the 224 px file loads at 128 px too (Keras would
        # look for the absent mobilenet_2_5_128_tf_no_top.h5 instead).
        weights = mobilenet_weights(args.weights_dir)
        mobilenet = FeatureExtractor("mobilenet", alpha=0.25, size=128, weights=weights, seed=0)
        rates = bench(mobilenet, digits(args.mobilenet_count), args.batch_size, args.repeat)
        report(f"mobilenet alpha 0.25, 128 px, weights {os.path.basename(weights)}, "
               f"{args.mobilenet_count} images", rates)
        resnet = FeatureExtractor("resnet-50", size=224, weights="none", seed=0)
        rates = bench(resnet, digits(args.resnet_count), args.batch_size, args.repeat)
        report(f"resnet-50, 224 px, weights none, {args.resnet_count} images", rates)
    finally:
        shutil.rmtree(keras_home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
