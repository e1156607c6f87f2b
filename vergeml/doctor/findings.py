"""One finding of ``ml doctor``: what is wrong, with which files, how sure."""
from dataclasses import dataclass

# In the order the report shows them: what misleads training and testing first.
KINDS = ("label", "conflict", "leak", "duplicate", "outlier", "quality", "imbalance")


@dataclass(frozen=True)
class Finding:
    """A problem found in the samples.

    Attributes:
        kind: one of :data:`KINDS`.
        files: paths relative to the project folder, possibly empty (imbalance).
        score: in [0, 1]; higher is more certain. Findings of a kind sort by it.
        why: one line a user reads.
        labels: the label of each file (parallel to ``files``).
        splits: the split of each file (``train``, ``val`` or ``test``).
        suggested: for ``label`` findings, the label the evidence points to.
    """

    kind: str
    files: tuple
    score: float
    why: str
    labels: tuple = ()
    splits: tuple = ()
    suggested: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown finding kind {self.kind!r}")

    def record(self):
        """The finding as a plain dict (one JSON record or CSV row).

        Returns:
            ``{kind, files, labels, splits, suggested, score, why}``; lists, not tuples.
        """
        return {"kind": self.kind, "files": list(self.files), "labels": list(self.labels),
                "splits": list(self.splits), "suggested": self.suggested,
                "score": round(float(self.score), 4), "why": self.why}


def ordered(findings):
    """Findings grouped by kind in :data:`KINDS` order, most certain first.

    Args:
        findings: any iterable of :class:`Finding`.

    Returns:
        A new list.
    """
    return sorted(findings, key=lambda f: (KINDS.index(f.kind), -f.score, f.files))
