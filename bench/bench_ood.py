"""Unknown rejection: our score (``vergeml.trust.ood_score``) against 1 - max softmax.

Issue 27's figure. On the four sets of real image files of ``doctor_sets.py``
(hymenoptera's 398 photos, scikit-image's LFW subset, the bench photos,
scikit-learn's digits), with backbone features from the project's own
extractor (MobileNet a0.25, 224 px, the shared ImageNet weights):

- the classifier: the project's own top (``head.build_top`` with ``ml train``'s
  defaults: one softmax ``Dense``, no dropout, ``l2: auto`` =
  ``1 / (4 n_train)``; ``head.compile_top``: Adam at 0.01, sparse
  cross-entropy), trained on the train split's features in batches of 64 for
  up to 100 epochs (20 with ``--quick``), the best epoch by ``ml train``'s rule
  (higher val_acc, then lower val_loss) restored, early stopping after 20
  epochs without a val_loss improvement. Unlike ``ml train``, Keras'
  own shuffling (seeded) replaces the project's ``tf.data`` pipeline and no
  class weights apply (every split here is within 3:1);
- the anchor: ``1 - max softmax`` of that top;
- ours: :func:`~vergeml.trust.ood_score.fit_rejection`, as ``ml train``
  calls it: the cosine distance to the 2 nearest training and validation
  images, its threshold keeping 97% of them scored leave-one-out;
- the anchor's threshold: :func:`~vergeml.trust.ood_score.fit_threshold` on
  the validation split's scores, keeping 97%.

Splits are ``doctor_sets``': every 7th image of a class ``test``, the next
``val``, the rest ``train``; hymenoptera has no validation split there (its
``val/`` folder is the test split), so every 7th of its training images per
class (the 2nd, 9th, ...) is its validation split here.

Rows:

- far unknowns, four pairs (trained on the first set; every image of the
  second set is an unknown; the first set's test split the knowns): AUROC,
  ours against the anchor, target at least 0.97 and at least anchor + 0.05;
  FPR at 95% TPR (the share of unknowns accepted when 95% of the known test
  images are kept; lower is better), no target;
- per set, the share of its (known) test images rejected with the threshold
  from validation, ours against the anchor's, target: ours at most 6%;
- near unknowns, digits and photos: each class held out of training (and of
  validation and test) in turn, a top trained on the rest, the held-out
  class's images the unknowns: mean AUROC over the held-out classes, target
  at least anchor + 0.1 (unreachable when the anchor is over 0.9).

Run: ``.venv/bin/python bench/bench_ood.py [--quick]`` (23 tops: about 2
minutes here on a loaded machine; ``--quick``: 225 photos and 600 digits,
at most 20 epochs, under a minute). The sets and their features are kept
(``doctor_sets.default_folder``), so a second run extracts nothing.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import doctor_sets
import rows

PAIRS = (("hymenoptera", "lfw"), ("lfw", "hymenoptera"), ("digits", "photos"), ("photos", "digits"))
NEAR = ("digits", "photos")
FAR_FLOOR, FAR_MARGIN, NEAR_MARGIN, MAX_REJECTED = 0.97, 0.05, 0.1, 0.06
PLAN = {False: {"epochs": 100}, True: {"epochs": 20}}
PATIENCE, BATCH, SEED = 20, 64, 1


def load(name, quick):
    """``(features float32, labels, splits array)`` of a set, hymenoptera's val carved from train."""
    import numpy as np
    data = doctor_sets.audit_data(name, quick=quick)
    labels, splits = np.asarray(data.labels), np.array(data.splits)
    if "val" not in splits:
        seen = {}
        for index in np.flatnonzero(splits == "train"):
            position = seen[labels[index]] = seen.get(labels[index], -1) + 1
            if position % 7 == 1:
                splits[index] = "val"
    return np.asarray(data.features, dtype=np.float32), labels, splits


def train_top(x_train, y_train, x_val, y_val, epochs):
    """The project's top on features, trained as ``ml train``'s phase 1 trains it (see the doc).

    Returns:
        A function ``features -> softmax probabilities``.
    """
    import keras
    import numpy as np

    from vergeml.models.imagenet.training.head import build_top, compile_top, resolve_l2
    classes = np.unique(y_train)
    remap = {c: i for i, c in enumerate(classes)}
    y_train = np.array([remap[c] for c in y_train])
    y_val = np.array([remap[c] for c in y_val])
    keras.utils.set_random_seed(SEED)
    args = resolve_l2({"optimizer": "adam", "learning-rate": "auto", "decay": 0.0, "l2": "auto"},
                      len(x_train))
    top = build_top(x_train.shape[1], len(classes), layers=1, dropout=0.0, seed=SEED, l2=args["l2"])
    compile_top(top, args)

    class BestEpoch(keras.callbacks.Callback):
        best, weights, wait, best_loss = None, None, 0, float("inf")

        def on_epoch_end(self, epoch, logs=None):
            probs = self.model.predict_on_batch(x_val)
            loss = float(np.mean(-np.log(np.maximum(probs[np.arange(len(y_val)), y_val], 1e-12))))
            acc = float(np.mean(probs.argmax(1) == y_val))
            if self.best is None or (acc, -loss) > self.best:
                self.best, self.weights = (acc, -loss), self.model.get_weights()
            if loss < self.best_loss:
                self.best_loss, self.wait = loss, 0
            else:
                self.wait += 1
                self.model.stop_training = self.wait >= PATIENCE
    best = BestEpoch()
    top.fit(x_train, y_train, batch_size=BATCH, epochs=epochs, shuffle=True, verbose=0, callbacks=[best])
    top.set_weights(best.weights)
    return lambda x: np.asarray(top.predict_on_batch(np.asarray(x, np.float32)))


def auroc(known, unknown):
    """AUROC of scores (higher = more unknown), ties counted half (Mann-Whitney)."""
    import numpy as np
    from scipy.stats import rankdata
    ranks = rankdata(np.concatenate([known, unknown]))
    n_known, n_unknown = len(known), len(unknown)
    return float((ranks[n_known:].sum() - n_unknown * (n_unknown + 1) / 2) / (n_known * n_unknown))


def fpr_at_95(known, unknown):
    """Share of unknowns scoring at or under the score that keeps 95% of the knowns."""
    import numpy as np
    return float(np.mean(unknown <= np.quantile(known, 0.95)))


def measure(x, y, splits, unknowns, epochs, keep_classes=None):
    """Both scores of one set-up: ``{method: {auroc, fpr, rejected}}``.

    Args:
        x, y, splits: the known set.
        unknowns: features of the unknown images.
        epochs: the top's epoch budget.
        keep_classes: a boolean mask of the known rows to use (None: all).
    """
    import numpy as np

    from vergeml.trust.ood_score import KEEP, fit_rejection, fit_threshold
    mask = np.ones(len(y), bool) if keep_classes is None else keep_classes
    part = {s: mask & (splits == s) for s in ("train", "val", "test")}
    predict = train_top(x[part["train"]], y[part["train"]], x[part["val"]], y[part["val"]], epochs)
    ood, threshold = fit_rejection(x[part["train"]], y[part["train"]], x[part["val"]], y[part["val"]])
    anchor = lambda f: 1.0 - predict(f).max(axis=1)  # noqa: E731 - one line, used twice
    scored = {"anchor": (anchor, fit_threshold(anchor(x[part["val"]]), keep=KEEP)),
              "ours": (ood.score, threshold)}
    found = {}
    for method, (score, cut) in scored.items():
        test, out = score(x[part["test"]]), score(unknowns)
        found[method] = {"auroc": auroc(test, out), "fpr": fpr_at_95(test, out),
                         "rejected": float(np.mean(test > cut))}
    return found


def emit_pair(known, unknown, count, result):
    """AUROC and FPR@95TPR rows of one far pair; whether the AUROC target is met."""
    mine, base = result["ours"]["auroc"], result["anchor"]["auroc"]
    goal = max(FAR_FLOOR, base + FAR_MARGIN)
    met = mine >= goal - 1e-9
    rows.emit(f"unknown rejection AUROC, trained on {known}, {count} {unknown} images as unknowns",
              mine, base, "AUROC", target=goal / base,
              note=f"(1 - max softmax of the top; target AUROC >= max({FAR_FLOOR}, anchor + {FAR_MARGIN})"
                   f" = {goal:.3f}: {'met' if met else 'NOT met'})")
    rows.emit(f"unknown rejection FPR at 95% TPR, trained on {known}, {unknown} as unknowns",
              result["ours"]["fpr"], result["anchor"]["fpr"], "share", higher_is_better=False,
              note="(1 - max softmax of the top; unknowns accepted, lower is better)")
    return met


def emit_rejected(name, count, result):
    """The row of known test images rejected with the validation threshold."""
    mine, base = result["ours"]["rejected"], result["anchor"]["rejected"]
    met = mine <= MAX_REJECTED + 1e-9
    rows.emit(f"unknown rejection, {name} test images (known, {count}) rejected, threshold from val",
              mine, base, "share", target=MAX_REJECTED / base if base else None, higher_is_better=False,
              note=f"(1 - max softmax of the top, same keep-97% rule; target ours <= {MAX_REJECTED:.0%}:"
                   f" {'met' if met else 'NOT met'})")
    return met


def emit_near(name, per_class):
    """The row of one set's near unknowns: mean AUROC over the held-out classes."""
    mine = statistics.mean(r["ours"]["auroc"] for r in per_class)
    base = statistics.mean(r["anchor"]["auroc"] for r in per_class)
    worst = min(r["ours"]["auroc"] for r in per_class), min(r["anchor"]["auroc"] for r in per_class)
    rejected = statistics.mean(r["ours"]["rejected"] for r in per_class)
    met = mine >= base + NEAR_MARGIN - 1e-9
    rows.emit(f"unknown rejection AUROC, {name}, each of {len(per_class)} classes held out in turn (mean)",
              mine, base, "AUROC", target=(base + NEAR_MARGIN) / base,
              note=f"(1 - max softmax of the top; target >= anchor + {NEAR_MARGIN}: "
                   f"{'met' if met else 'NOT met'}; worst class ours {worst[0]:.3f}, anchor "
                   f"{worst[1]:.3f}; known test images rejected, ours {rejected:.1%})")
    return met


def main():
    import numpy as np
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller photos and digits sets, 20 epochs")
    quick = parser.parse_args().quick
    epochs = PLAN[quick]["epochs"]
    started = time.monotonic()
    sets = {name: load(name, quick) for name in doctor_sets.SETS}
    far = {}
    for known, unknown in PAIRS:
        x, y, splits = sets[known]
        far[known, unknown] = measure(x, y, splits, sets[unknown][0], epochs)
        for method, m in far[known, unknown].items():
            print(f"  {known:>11} vs {unknown:<11} {method:<6} AUROC {m['auroc']:.3f} "
                  f"FPR@95 {m['fpr']:.3f} test rejected {m['rejected']:.3f}", flush=True)
    near = {}
    for name in NEAR:
        x, y, splits = sets[name]
        near[name] = []
        for held_out in np.unique(y):
            near[name].append(measure(x, y, splits, x[y == held_out], epochs, keep_classes=y != held_out))
            m = near[name][-1]
            print(f"  {name} without {held_out}: AUROC ours {m['ours']['auroc']:.3f} "
                  f"anchor {m['anchor']['auroc']:.3f}", flush=True)
    for known, unknown in PAIRS:
        emit_pair(known, unknown, len(sets[unknown][0]), far[known, unknown])
    for known, unknown in PAIRS:
        emit_rejected(known, int(np.sum(sets[known][2] == "test")), far[known, unknown])
    for name in NEAR:
        emit_near(name, near[name])
    print(f"{time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
