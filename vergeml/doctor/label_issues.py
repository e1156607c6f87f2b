"""``label`` findings: images whose label is probably wrong, with the label they look like.

How (every step on the cached backbone features, no TensorFlow):

1. Out-of-fold probabilities: the features L2-normalised, then standardised on
   each training fold, and a scikit-learn ``LogisticRegression`` with a strong
   L2 penalty (:data:`STRENGTH` per training image) fitted on the other folds
   of a stratified k-fold predicts each image, so no image is judged by a
   model that saw its label.
2. Confident learning (cleanlab): :func:`cleanlab.count.num_label_issues`
   estimates how many labels are wrong from the confident joint
   (``off_diagonal_calibrated``), and that many images with the lowest
   self-confidence (the probability of their own label) are flagged; this is
   cleanlab's ``filter_by="low_self_confidence"`` with the calibrated count.
   An image whose own label gets less than :data:`CERTAIN` is flagged too.
3. A second round: the models are fitted again without the images flagged in
   the first, so wrong labels no longer pull the models towards them, and step
   2 runs on the new probabilities.
4. The nearest neighbours (cosine, :mod:`vergeml.doctor.neighbours`) as a second,
   independent opinion: an image is also flagged when the model's best class is
   another one and all :data:`NEIGHBOURS` neighbours carry that class; and a
   flagged image stays flagged only when at most half of its neighbours carry
   its own label.

Why this method, measured with ``bench/bench_doctor_labels.py``'s sets and
scoring (5% of the labels flipped at random; F1 of the flagged images against
the flipped ones), mean of 6 development flip seeds (101-106, not the bench's
1-3). The anchor: cleanlab's ``find_label_issues`` on 5-fold out-of-fold
probabilities of ``LogisticRegression(max_iter=1000)`` on the raw features.

==============================================  =====  =====  ======  ======
F1, each row adding one step                    hym.   LFW    photos  digits
==============================================  =====  =====  ======  ======
anchor                                          0.326  0.905  0.916   0.819
L2-normalised + standardised, C=1               0.327  0.839  0.897   0.663
penalty 0.05 per image (cleanlab's default)     0.395  0.896  0.891   0.857
calibrated count, lowest self-confidence        0.399  0.896  0.972   0.931
second round                                    0.508  0.982  0.964   0.952
own label under 0.05 flagged                    0.508  0.982  0.988   0.952
at most half of the neighbours agree            0.547  0.982  0.988   0.952
all neighbours and the model disagree (this)    0.548  0.991  0.988   0.955
==============================================  =====  =====  ======  ======

A weakly regularised model is over-confident on the images it gets wrong, so
its probabilities rank badly; the penalty per image keeps a small set as
regularised as a large one (0.02 and 0.1 gave F1 within 0.03 of 0.05 on every
set). Tried and left out: averaging a 10-neighbour vote into the probabilities
(weight 0.3 / 0.5: F1 0.530 / 0.520 on hymenoptera, 0.948 / 0.940 on digits),
ten folds (no better, twice the cost), a third round (no better), cleanlab's
default ``prune_by_noise_rate`` filter in step 2 (digits 0.931). Images
mislabelled alike and next to each other vouch for each other in step 4; they
are found by steps 1-3 alone.

Too few images: a label is judged by a model that has not seen it, trained on
the other folds. With fewer than :data:`MIN_IMAGES` images, or fewer than two
classes that have a second image to learn from, those models learn next to
nothing and every finding would be noise, so :func:`find_label_issues`
returns no findings. An image of a class that has no other image in its
training folds (a class of one image) cannot be judged and is never flagged.
"""
import warnings

STRENGTH = 0.05
"""L2 strength of the logistic regression per training image (standardised features):
scikit-learn's ``C`` is ``1 / (STRENGTH * training images)``, so a small set is
regularised as much per image as a large one."""

NEIGHBOURS = 10
"""Nearest neighbours of the second check (and the ``why`` line)."""

MIN_IMAGES = 10
"""Below this many images, no label is judged (see the module doc)."""

ROUNDS = 2
"""Rounds of fitting: the second without the images the first flagged."""

UNANIMOUS = 1.0
"""Share of the neighbours that, with the model, flag an image confident learning did
not (1.0: all; 0.9 let in about one false alarm per run on the 200 faces)."""

CERTAIN = 0.05
"""An image whose own label gets less than this out-of-fold probability is flagged
whatever cleanlab's estimate of the number of label issues."""

MAX_ITER = 1000


def find_label_issues(data, seed=0, folds=5):
    """The images whose label is probably wrong, most certain first.

    Args:
        data: :class:`vergeml.doctor.audit_data.AuditData` (features and labels).
        seed: the random seed of the folds (the same seed gives the same findings).
        folds: folds of the cross-validation (fewer when no class has that many images).

    Returns:
        A list of :class:`vergeml.doctor.findings.Finding` of kind ``label``, one
        image each, with the suggested label; ``score`` is one minus the
        out-of-fold probability of the image's own label. ``[]`` when there are
        too few images to cross-validate.
    """
    import numpy as np
    labels = np.asarray(data.labels, dtype=np.int64)
    folds = usable_folds(labels, folds)
    if not folds:
        return []
    from vergeml.doctor.neighbours import nearest, unit_rows
    unit = unit_rows(data.features)
    classes = len(data.label_names)
    flagged, probs, judged = flag(unit, labels, classes, seed, folds)
    near = nearest(unit, k=NEIGHBOURS).indices
    keep = np.flatnonzero(_second_opinion(flagged, probs, labels, near) & judged)
    found = [_finding(data, index, probs[index], labels[near[index]]) for index in keep]
    return sorted(found, key=lambda f: (-f.score, f.files))


def flag(unit, labels, classes, seed, folds):
    """The images confident learning flags after :data:`ROUNDS` rounds.

    Args:
        unit: L2-normalised features ``(n, d)``.
        labels: ``int`` class index per row.
        classes: the number of classes.
        seed: of the folds.
        folds: how many.

    Returns:
        ``(flagged, probs, judged)``: a boolean mask, the last round's out-of-fold
        probabilities, and the mask of the images it could judge (see :func:`out_of_fold`).
    """
    import numpy as np
    flagged = np.zeros(len(labels), bool)
    for _ in range(ROUNDS):
        probs, judged = out_of_fold(unit, labels, classes, seed, folds,
                                    exclude=_excludable(labels, flagged))
        # cleanlab's count compares each image with the mean confidence of its
        # classes; when nearly all are certain (small, clean sets) a plain flip
        # can fall short of that mean, so what the model all but rules out counts too.
        flagged = judged & (probs[np.arange(len(labels)), labels] < CERTAIN)
        flagged[confident_issues(labels, probs, judged)] = True
    return flagged, probs, judged


def _second_opinion(flagged, probs, labels, near):
    """The flags once the nearest neighbours had their say.

    Args:
        flagged: boolean mask of the images confident learning flagged.
        probs: their out-of-fold probabilities ``(n, classes)``.
        labels: ``int`` class index per image.
        near: ``(n, k)`` row numbers of each image's nearest neighbours.

    Returns:
        A boolean mask: flagged, or the model's best class is another one that
        nearly all neighbours (:data:`UNANIMOUS`) carry; and in either case at
        most half of the neighbours carry the image's own label.
    """
    if not near.shape[1]:
        return flagged
    best = probs.argmax(axis=1)
    named = (labels[near] == best[:, None]).mean(axis=1)
    agree = (labels[near] == labels[:, None]).mean(axis=1)
    return (flagged | ((best != labels) & (named >= UNANIMOUS))) & (agree <= 0.5)


def _excludable(labels, flagged):
    """``flagged``, less the images of classes that would keep fewer than two
    training images without them (a class must stay learnable)."""
    import numpy as np
    kept = np.bincount(labels[~flagged], minlength=labels.max() + 1)
    return flagged & (kept[labels] >= 2)


def usable_folds(labels, folds):
    """How many folds the labels allow, or 0 when they are too few to cross-validate.

    Args:
        labels: ``int`` class index per image.
        folds: the folds asked for.

    Returns:
        ``min(folds, images in the largest class)``, or 0 (fewer than
        :data:`MIN_IMAGES` images, or fewer than two classes of two images or more).
    """
    import numpy as np
    counts = np.bincount(labels) if len(labels) else np.zeros(0, np.int64)
    if len(labels) < MIN_IMAGES or (counts >= 2).sum() < 2 or folds < 2:
        return 0
    return int(min(folds, counts.max()))


def out_of_fold(unit, labels, classes, seed, folds, exclude=None):
    """Out-of-fold class probabilities of a logistic regression.

    Args:
        unit: L2-normalised features ``(n, d)``.
        labels: ``int`` class index per row.
        classes: the number of classes (columns of the result).
        seed: of the stratified folds.
        folds: how many.
        exclude: boolean mask of rows left out of every training fold (still predicted).

    Returns:
        ``(probs, judged)``: ``float64 (n, classes)``, and a boolean mask of the rows
        whose own class was in their model's training data (only those can be judged).
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler
    probs = np.zeros((len(labels), classes))
    judged = np.zeros(len(labels), bool)
    with warnings.catch_warnings():
        # Tiny classes ("least populated class has only 1 member") and a fold's
        # slow convergence are expected; neither makes the probabilities unusable.
        warnings.simplefilter("ignore")
        splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(unit, labels)
        for train, test in splits:
            if exclude is not None:
                train = train[~exclude[train]]
            if len(np.unique(labels[train])) < 2:
                continue
            scaler = StandardScaler().fit(unit[train])
            model = LogisticRegression(C=inverse_strength(len(train)), max_iter=MAX_ITER)
            model.fit(scaler.transform(unit[train]), labels[train])
            probs[np.ix_(test, model.classes_)] = model.predict_proba(scaler.transform(unit[test]))
            judged[test] = np.isin(labels[test], model.classes_)
    return probs, judged


def inverse_strength(count):
    """scikit-learn's ``C`` for ``count`` training images (see :data:`STRENGTH`)."""
    return 1.0 / (STRENGTH * count)


def confident_issues(labels, probs, judged):
    """The rows confident learning flags, among the judged ones.

    Args:
        labels: ``int`` class index per row.
        probs: out-of-fold probabilities ``(n, classes)``.
        judged: boolean mask of the rows that may be flagged.

    Returns:
        ``int`` array of row numbers: as many as cleanlab estimates are
        mislabelled, those with the lowest probability of their own label.
    """
    import numpy as np
    from cleanlab.count import num_label_issues
    from cleanlab.rank import get_label_quality_scores
    rows = np.flatnonzero(judged)
    present = np.unique(labels[rows])
    if len(present) < 2:
        return np.zeros(0, np.int64)
    # cleanlab expects every column to be a class with examples, rows summing to 1.
    given = np.searchsorted(present, labels[rows])
    sub = probs[np.ix_(rows, present)]
    sub = sub / np.maximum(sub.sum(axis=1, keepdims=True), 1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        count = num_label_issues(given, sub, estimation_method="off_diagonal_calibrated")
        quality = get_label_quality_scores(given, sub, method="self_confidence")
    return rows[np.argsort(quality, kind="stable")[:count]]


def _finding(data, index, probs, neighbour_labels):
    """The finding of one flagged image: the other class it most likely is, and why."""
    import numpy as np
    from vergeml.doctor.findings import Finding
    own = int(data.labels[index])
    others = probs.copy()
    others[own] = -1.0
    suggested = int(np.argmax(others))
    name = data.label_names[suggested]
    votes = int((neighbour_labels == suggested).sum())
    why = (f"out-of-fold P({name})={probs[suggested]:.2f}, P({data.label_names[own]})="
           f"{probs[own]:.2f}; {votes} of {len(neighbour_labels)} nearest neighbours are {name}")
    return Finding("label", files=(data.files[index],), score=float(np.clip(1 - probs[own], 0, 1)),
                   why=why, labels=(data.label_names[own],),
                   splits=(data.splits[index],) if data.splits else (), suggested=name)
