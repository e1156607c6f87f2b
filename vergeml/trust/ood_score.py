"""The unknown score: how unlike every training image an image's features are.

The score is the cosine distance to the training images in backbone-feature
space, averaged over the :data:`K` = 2 nearest::

    u      = f / max(||f||, EPS)                       # f: the image's (n, d) features
    sim    = u @ bank.T                                # bank: (m, d) unit training rows
    score  = 1 - mean(top_k(sim, K))                   # higher = more unknown

It needs only a normalisation, one matrix product with a constant bank (a
``Dense`` layer with a fixed kernel and no bias), ``top_k`` and element-wise
arithmetic, so the fused Keras model (and every export of it) computes it in
its own runtime. A zero feature vector is unlike everything: its score is 1.
The threshold is fitted on the validation split's scores (:func:`fit_threshold`):
an image scoring over it is ``unknown``.

Why this score: chosen by measurement (``bench/bench_ood.py``, issue 27) on
the four real sets of ``bench/doctor_sets.py`` (MobileNet a0.25 224 px features,
256-d), higher = more unknown, AUROC of in-distribution test images against
the unknowns. Far pairs: a model trained on the first set, shown every image of
the second; near unknowns: each class of a set held out of training in turn,
the mean (and worst) AUROC over the held-out classes. The classifier for the
softmax scores in this study was scikit-learn's ``LogisticRegression(C=2)``, the
same penalty as the top's ``l2: auto`` (the bench uses the project's top)::

    candidate                hym>lfw lfw>hym dig>pho pho>dig | digits held-out  photos held-out
                                                             |   mean  worst     mean  worst
    1 - max softmax (anchor)  0.610   0.995   0.734   1.000  |  0.902  0.853    0.875  0.493
    energy (-logsumexp)       0.574   0.499   0.253   1.000  |  0.882  0.792    0.880  0.452
    kNN k-th, k=1             0.982   1.000   1.000   1.000  |  0.918  0.886    0.959  0.814
    kNN k-th, k=2             1.000   1.000   1.000   1.000  |  0.923  0.877    0.948  0.762
    kNN mean of 2 (chosen)    0.998   1.000   1.000   1.000  |  0.925  0.887    0.956  0.800
    kNN mean of 5             0.999   1.000   1.000   1.000  |  0.920  0.866    0.946  0.752
    kNN k-th, k=10            0.996   1.000   1.000   1.000  |  0.877  0.782    0.918  0.618
    kNN centred, mean of 2    0.514   1.000   0.999   1.000  |  0.719  0.227    0.963  0.827
    Mahalanobis, shared cov   0.650   1.000   1.000   1.000  |  0.818  0.635    0.983  0.916
    Mahalanobis, unit rows    0.998   1.000   1.000   1.000  |  0.877  0.771    0.967  0.845
    relative Mahalanobis      0.381   0.000   0.008   1.000  |  0.913  0.717    0.736  0.232
    kNN 1 + MSP (z-summed)    0.952   1.000   1.000   1.000  |  0.949  0.920    0.945  0.747
    kNN mean 5 + MSP          0.988   1.000   1.000   1.000  |  0.943  0.910    0.922  0.646
    Mahalanobis unit + MSP    0.978   1.000   1.000   1.000  |  0.944  0.921    0.950  0.771

(Mahalanobis: Ledoit-Wolf shrunk covariance of the class residuals, min over
classes.) What decided:

- The softmax scores miss the far unknowns: a face is as confidently an ant
  as an ant is (0.61), and energy and max-logit are worse, under 0.5 where the
  unknown's features are small (grey 25x25 faces, digits): its logits shrink
  with them. Centring the features before normalising, raw-feature
  Mahalanobis and relative Mahalanobis fail on the same pairs for the same
  reason: a low-energy feature vector sits near the mean.
- Cosine kNN on the uncentred features is 0.98-1.00 on every far pair;
  the mean of the 2 nearest is as good as any k and among the best on the
  near unknowns (one near-copy in training no longer decides alone, as it does
  at k = 1). Mahalanobis on unit rows is close but lower on digits, and
  needs a (d, d) precision and one distance per class.
- Adding the softmax helps on the digits (0.949 against 0.925) but costs on
  the photos and on the ants-vs-faces pair: not kept.
- Near unknowns are where every score is weakest: the issue's target (anchor
  + 0.1) cannot be reached on the digits (0.902 + 0.1 > 1); on the photos
  only raw-feature Mahalanobis (0.983) reaches 0.975, at 0.65 on a far pair.

The bank: the training rows, at most :data:`MAX_BANK` of them (a seeded
subsample, every class in proportion to its count; 10,000 x 256 float32 is
10 MB). Capping costs AUROC on near unknowns: with 1,150 digits in the bank,
a cap of 512 rows gives a held-out mean of 0.900 (k=2 mean), 256 rows 0.877.
Far pairs did not move.

The threshold keeps ``keep`` of the validation images by the conformal rank
(the ``ceil((n + 1) keep)``-th smallest score), which keeps the expected share
of known images rejected at most ``1 - keep`` for images exchangeable with the
validation ones; on LFW's 30 validation images the plain 95% quantile
rejected 10% of its test split (3 of 30), the rank 7% (2 of 30).

With the project's own top as the anchor (``bench/bench_ood.py``, one run):
AUROC ours / anchor 0.998 / 0.783, 1.000 / 0.974, 1.000 / 0.771, 1.000 / 1.000
on the four far pairs above; held-out means 0.925 / 0.905 (digits) and
0.956 / 0.872 (photos); known test images rejected 2.0%, 6.7%, 4.6%, 2.8%
(hymenoptera, LFW, digits, photos).
"""
import math
from dataclasses import dataclass

import numpy as np

K = 2
MAX_BANK = 10_000
CHUNK = 2048   # rows scored at a time
KEEP = 0.97    # the share of held-out known images a threshold keeps (see fit_rejection)
EPS = 1e-12  # below this norm a feature vector counts as zero (and scores 1)


@dataclass(frozen=True)
class OODScore:
    """A fitted unknown score: the cosine distance to the nearest training rows.

    Attributes:
        bank: ``float32 (m, d)``, unit-length training feature rows (zero rows
            of the training set stay zero).
        k: how many nearest rows the distance is averaged over
            (``1 <= k <= m``).
    """

    bank: np.ndarray
    k: int

    def score(self, features, leave_one_out=False):
        """The unknown score of each row of ``features``.

        Args:
            features: ``(n, d)`` backbone features (any float dtype).
            leave_one_out: the rows are the bank's own images: each one's
                nearest match (itself) is left out, so it is scored as an
                image the bank has not seen.

        Returns:
            ``float64 (n,)``, higher = more unknown: ``1 - mean`` of the ``k``
            largest cosine similarities to the bank, in [0, 2] (in [0, 1]
            for non-negative features such as ReLU outputs); 1 for a zero row.
        """
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != self.bank.shape[1]:
            raise ValueError(f"expected features of shape (n, {self.bank.shape[1]}), "
                             f"got {features.shape}")
        skip = int(bool(leave_one_out) and len(self.bank) > self.k)
        # In chunks: n x bank similarities of 20,000 images and a full bank are 800 MB at once.
        return np.concatenate([self._chunk_scores(features[start:start + CHUNK], skip)
                               for start in range(0, len(features), CHUNK)] or [np.zeros(0)])

    def _chunk_scores(self, features, skip):
        similarity = unit_rows(features) @ self.bank.T
        # The k (+ skip) largest, in any order: argpartition is linear, a sort is not.
        count = self.k + skip
        nearest = np.partition(similarity, similarity.shape[1] - count, axis=1)[:, -count:]
        if skip:
            nearest = np.sort(nearest, axis=1)[:, :-skip]
        return 1.0 - nearest.astype(np.float64).mean(axis=1)

    def to_arrays(self):
        """The fitted score as named arrays, for ``np.savez``.

        Returns:
            ``{"bank": float32 (m, d), "k": int64 scalar}``.
        """
        return {"bank": self.bank, "k": np.int64(self.k)}

    @classmethod
    def from_arrays(cls, arrays):
        """The score :meth:`to_arrays` gave (e.g. ``dict(np.load(path))``).

        Args:
            arrays: mapping with ``bank`` and ``k``.

        Returns:
            :class:`OODScore`.
        """
        bank = np.ascontiguousarray(arrays["bank"], dtype=np.float32)
        k = int(np.asarray(arrays["k"]))
        if bank.ndim != 2 or not 1 <= k <= len(bank):
            raise ValueError(f"not a fitted unknown score: bank {bank.shape}, k {k}")
        return cls(bank=bank, k=k)

    def describe(self):
        """One line: what the score is and what it holds."""
        rows, dim = self.bank.shape
        return (f"cosine distance to the {self.k} nearest training images "
                f"(bank of {rows:,} x {dim}, {self.bank.nbytes / 1e6:.1f} MB)")


def unit_rows(features):
    """``features`` (float32) divided by their L2 norms; rows with no norm stay zero."""
    features = np.asarray(features, dtype=np.float32)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.maximum(norms, np.float32(EPS))


def fit_ood(train_features, train_labels=None, k=K, max_bank=MAX_BANK, seed=0):
    """Fit the unknown score on the training split's features.

    Args:
        train_features: ``(n, d)`` backbone features of the training images (``n >= 1``).
        train_labels: ``(n,)`` class indices, or None; used only so a capped
            bank keeps every class in proportion.
        k: nearest rows averaged over (fewer when there are fewer rows).
        max_bank: at most this many rows are kept (a seeded subsample).
        seed: the subsample's random seed.

    Returns:
        :class:`OODScore`.
    """
    features = np.asarray(train_features, dtype=np.float32)
    if features.ndim != 2 or not len(features):
        raise ValueError(f"need at least one training feature row, got shape {features.shape}")
    if k < 1 or max_bank < 1:
        raise ValueError(f"k and max_bank must be at least 1, got {k} and {max_bank}")
    keep = bank_rows(len(features), train_labels, max_bank, seed)
    bank = unit_rows(features[keep])
    return OODScore(bank=np.ascontiguousarray(bank), k=min(int(k), len(bank)))


def bank_rows(count, labels, max_bank, seed):
    """Indices of the rows kept in the bank, sorted: all, or a seeded stratified subsample.

    Each class keeps ``round(share * max_bank)`` rows (at least one), trimmed or
    topped up at random so that exactly ``max_bank`` rows remain.
    """
    if count <= max_bank:
        return np.arange(count)
    rng = np.random.default_rng(seed)
    labels = np.zeros(count, np.int64) if labels is None else np.asarray(labels).ravel()
    if len(labels) != count:
        raise ValueError(f"{len(labels)} labels for {count} feature rows")
    picked = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        take = max(1, round(len(members) * max_bank / count))
        picked.append(rng.choice(members, min(take, len(members)), replace=False))
    picked = np.concatenate(picked)
    if len(picked) > max_bank:
        picked = rng.choice(picked, max_bank, replace=False)
    elif len(picked) < max_bank:
        rest = np.setdiff1d(np.arange(count), picked)
        picked = np.concatenate([picked, rng.choice(rest, max_bank - len(picked), replace=False)])
    return np.sort(picked)


def fit_threshold(val_scores, keep=0.95):
    """The threshold over which a score means unknown, fitted on validation scores.

    The ``ceil((n + 1) * keep)``-th smallest of the ``n`` scores (the largest
    when that rank is past ``n``): for a new image exchangeable with the
    validation images, the chance that it scores over the threshold is at most
    ``1 - keep`` (split-conformal), where the plain ``keep`` quantile of a few
    dozen images rejects more.

    Args:
        val_scores: the scores of the validation images (at least one).
        keep: the share of known images to keep, in (0, 1].

    Returns:
        float: images with ``score > threshold`` are unknown.
    """
    scores = np.sort(np.asarray(val_scores, dtype=np.float64).ravel())
    if not len(scores):
        raise ValueError("need at least one validation score to fit a threshold")
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    rank = min(len(scores), math.ceil((len(scores) + 1) * keep - 1e-9))
    return float(scores[rank - 1])


def fit_rejection(train_features, train_labels, val_features, val_labels, keep=KEEP):
    """The score and its threshold, from the images of known classes that are not for testing.

    The bank holds the training and validation images together; the threshold
    is :func:`fit_threshold` over every one of them scored leave-one-out
    (against the others). A few dozen validation images alone make a
    threshold that moves a lot with the split (on the ants and bees, 37 of
    them rejected 0-10.5% of the test photos across seeds); a few hundred
    held-out scores do not. ``keep`` is 0.97, not 0.95: a real folder's new
    photos are rarely exactly like the training ones (the ants and bees of
    ``val/`` against ``train/``: 95% rejected 8.5% of them, 97% 4.6%; the
    LFW, digits and photo sets, whose test images are like their training
    ones: 1.4-3.3% at 95%, 1.4-3.3% at 97%). With a capped bank, the images
    left out of it lose their nearest match too: a slightly higher threshold.

    Args:
        train_features, train_labels: the training split.
        val_features, val_labels: the validation split (may be empty).
        keep: the share of the held-out scores kept under the threshold.

    Returns:
        ``(OODScore, threshold)``.
    """
    features = np.concatenate([np.asarray(train_features, np.float32),
                               np.asarray(val_features, np.float32).reshape(-1, np.shape(train_features)[1])])
    labels = np.concatenate([np.asarray(train_labels).ravel(), np.asarray(val_labels).ravel()])
    ood = fit_ood(features, labels)
    return ood, fit_threshold(ood.score(features, leave_one_out=True), keep=keep)
