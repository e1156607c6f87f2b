"""``outlier`` findings: images far from every class.

An image's distance to the set is the mean cosine distance to its :data:`K`
nearest neighbours (:mod:`vergeml.doctor.neighbours`, centred features), of
any class: an image near another class's images is not far from every class
(a wrong label is the ``label`` finder's business). It is an outlier when
that distance is more than :data:`Z` robust standard deviations (1.4826 x
the median absolute deviation) above the median of its own class, and above
the median of the whole set. Comparing with its own class keeps a normal
image of a loose class (varied scenes) from being flagged because a tight
class (close-ups of one thing) sets a small scale; a class with fewer than
:data:`MIN_CLASS` images is compared with the whole set instead.
"""
from vergeml.doctor.findings import Finding

K = 10
Z = 3.5
MIN_CLASS = 20


def find_outliers(data):
    """The ``outlier`` findings of a set.

    Args:
        data: :class:`vergeml.doctor.audit_data.AuditData`.

    Returns:
        A list of :class:`Finding`, most certain first.
    """
    import numpy as np

    from vergeml.doctor.neighbours import nearest
    n = len(data)
    if n < 3:
        return []
    features = np.asarray(data.features, dtype=np.float32)
    found = nearest(features - features.mean(axis=0), K)
    distance = 1 - found.sims.mean(axis=1)
    labels = np.asarray(data.labels)
    whole = _robust(distance)
    findings = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        centre, spread = _robust(distance[members]) if len(members) >= MIN_CLASS else whole
        spread = max(spread, whole[1] * 0.25, 1e-6)  # a class of near-copies has no spread at all
        for index in members:
            z = (distance[index] - centre) / spread
            if z > Z and distance[index] > whole[0]:
                findings.append(Finding(
                    "outlier", (data.files[index],), float(1 - Z / z),
                    f"far from every class: mean cosine distance {distance[index]:.2f} to its {found.sims.shape[1]} "
                    f"nearest images, {z:.1f} deviations above the {data.label_of(index)} images' {centre:.2f}",
                    labels=(data.label_of(index),), splits=(data.splits[index],)))
    return sorted(findings, key=lambda f: (-f.score, f.files))


def _robust(values):
    """``(median, 1.4826 x median absolute deviation)``: a centre and a spread that a few outliers do not move."""
    import numpy as np
    centre = float(np.median(values))
    return centre, float(1.4826 * np.median(np.abs(values - centre)))
