"""What ``ml doctor`` analyses: one row per sample, in parallel arrays."""
from dataclasses import dataclass, field


@dataclass
class AuditData:
    """The samples of a project as the analysis sees them.

    Attributes:
        files: paths relative to the project folder, one per sample.
        labels: ``int`` class index per sample (NumPy array).
        label_names: class names; ``label_names[i]`` is class ``i``.
        splits: ``"train"``, ``"val"`` or ``"test"`` per sample.
        digests: content digest (hex string) per sample.
        features: ``float32`` array ``(n, d)`` of backbone features.
        paths: absolute paths, to read pixels (quality checks, contact sheets).
        bad_files: ``[(relative path, reason)]`` of files that did not decode.
    """

    files: list
    labels: object
    label_names: list
    splits: list
    digests: list
    features: object
    paths: list
    bad_files: list = field(default_factory=list)

    def __len__(self):
        return len(self.files)

    def label_of(self, index):
        """The class name of sample ``index``."""
        return self.label_names[int(self.labels[index])]

    def subset(self, indices):
        """The samples at ``indices`` (a list of ints), as a new :class:`AuditData`."""
        pick = list(indices)
        return AuditData(files=[self.files[i] for i in pick], labels=self.labels[pick],
                         label_names=self.label_names, splits=[self.splits[i] for i in pick],
                         digests=[self.digests[i] for i in pick], features=self.features[pick],
                         paths=[self.paths[i] for i in pick], bad_files=list(self.bad_files))
