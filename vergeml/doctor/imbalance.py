"""``imbalance`` findings: training classes of very different sizes.

The rule is ``--class-weights=auto``'s (:data:`AUTO_RATIO`, from
:mod:`vergeml.models.imagenet.training.class_weights`): a finding when the
largest class of the training split has at least that many times the images
of the smallest (a class without training images counts as the smallest).
"""
from vergeml.doctor.findings import Finding
from vergeml.models.imagenet.training.class_weights import AUTO_RATIO


def find_imbalance(data):
    """The ``imbalance`` finding of a set, if any.

    Args:
        data: :class:`vergeml.doctor.audit_data.AuditData`; the ``train`` split
            is counted (every sample when there is none).

    Returns:
        A list of at most one :class:`Finding` (no files; the counts are in ``why``).
    """
    counts = class_counts(data)
    if len(counts) < 2:
        return []
    (small, fewest), (large, most) = min(counts.items(), key=_by_count), max(counts.items(), key=_by_count)
    ratio = most / fewest if fewest else float("inf")
    if ratio < AUTO_RATIO:
        return []
    text = ", ".join(f"{label} {count}" for label, count in sorted(counts.items(), key=lambda c: (-c[1], c[0])))
    between = f"{ratio:.1f}:1, {large} to {small}" if fewest else f"{small} has none"
    why = (f"training images per class: {text} ({between}); "
           f"ml train --class-weights=auto balances the loss from {AUTO_RATIO:g}:1 on")
    # 3:1 scores 0.5, 10:1 0.77, 30:1 0.91, a class without images 1.
    score = ratio / (ratio + AUTO_RATIO) if fewest else 1.0
    return [Finding("imbalance", (), float(score), why)]


def class_counts(data):
    """Training images per class name (every sample when the set has no ``train`` split)."""
    rows = [i for i, split in enumerate(data.splits) if split == "train"] or range(len(data))
    counts = dict.fromkeys(data.label_names, 0)
    for index in rows:
        counts[data.label_of(index)] += 1
    return counts


def _by_count(item):
    return item[1], item[0]
