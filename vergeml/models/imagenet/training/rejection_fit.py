"""Fitting unknown rejection at the end of a run (:mod:`vergeml.models.imagenet.rejection`).

The score is fitted on the training and validation images' features as the
saved model computes them (the cached features for a frozen run; for a
fine-tuned run the backbone changed, so its features are computed again from
the images), its threshold on those images scored leave-one-out
(:func:`vergeml.trust.ood_score.fit_rejection`), and the share of the test
split it rejects is reported: each of those images is of a known class, so
every rejection there is a false alarm.
"""
import io

import numpy as np

from vergeml.fileutil import atomic_write_bytes
from vergeml.models.imagenet.rejection import ood_path


def fit_rejection(run, model):
    """Fit the score and its threshold, save them in the instance, report them.

    Args:
        run: the :class:`~vergeml.models.imagenet.training.training_run.Run`
            (its dataset, cached features, state, instance).
        model: the fused model as it is saved (best epoch, corrections applied).

    Returns:
        The results to record (``reject_threshold``, ``test_rejected``), or an
        empty dict for a training split too small to score (two images or fewer).
    """
    from vergeml.trust.ood_score import K, KEEP, fit_rejection as fit
    if len(run.features["train"][1]) <= K:
        return {}
    features = {split: split_features(run, model, split) for split in ("train", "val", "test")}
    ood, threshold = fit(features["train"], run.features["train"][1],
                         features["val"], run.features["val"][1])
    buffer = io.BytesIO()
    np.savez(buffer, **ood.to_arrays())
    atomic_write_bytes(ood_path(run.instance), buffer.getvalue())
    results = {"reject_threshold": round(float(threshold), 6)}
    if len(features["test"]):
        results["test_rejected"] = float((ood.score(features["test"]) > threshold).mean())
    print(f"Unknown rejection: {ood.describe()}, threshold {threshold:.3g} (keeps {KEEP:.0%} of the "
          "training and validation images, each scored against the others)"
          + (f"; rejects {results['test_rejected']:.1%} of the test split"
             if "test_rejected" in results else ""))
    return results


def split_features(run, model, split):
    """The backbone features of a split under ``model``: the cached ones when the backbone
    is the frozen one, else computed from the split's images."""
    if run.state.best_phase != "fine-tune":
        return np.asarray(run.features[split][0], dtype=np.float32)
    from vergeml.models.imagenet.instance_model import split_fused
    from vergeml.models.imagenet.training.image_arrays import split_images
    from vergeml.models.imagenet.tta import predict_in_batches
    images, _ = split_images(run.dataset, split, run.extractor.size, run.args["resize"],
                             progress=False)
    if not len(images):
        return np.zeros((0, run.features[split][0].shape[1]), np.float32)
    backbone, _ = split_fused(model, "fit the unknown score")
    preprocess = run.extractor.preprocess
    return predict_in_batches(lambda pixels: backbone.predict_on_batch(preprocess(pixels)),
                              images, tta=False)
