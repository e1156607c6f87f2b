"""``outlier`` findings (vergeml/doctor/outliers.py), the neighbour search they share
(vergeml/doctor/neighbours.py) and ``imbalance`` findings (vergeml/doctor/imbalance.py)."""
import numpy as np
import pytest

from vergeml.doctor.audit_data import AuditData
from vergeml.doctor.imbalance import find_imbalance
from vergeml.doctor.neighbours import nearest
from vergeml.doctor.outliers import find_outliers


def audit(features, labels, names=("tight", "loose"), splits=None):
    n = len(features)
    return AuditData(files=[f"samples/{names[l]}/{i:03d}.jpg" for i, l in enumerate(labels)],
                     labels=np.asarray(labels), label_names=list(names), splits=splits or ["train"] * n,
                     digests=[str(i) for i in range(n)], features=np.asarray(features, np.float32),
                     paths=[""] * n)


def two_classes(rng, tight=0.05, loose=0.4, per_class=40, dims=32):
    """A tight class (one subject, close-ups) and a loose one (varied scenes)."""
    centres = rng.standard_normal((2, dims)) * 2
    features = np.concatenate([centres[0] + rng.normal(0, tight, (per_class, dims)),
                               centres[1] + rng.normal(0, loose, (per_class, dims))])
    return features, [0] * per_class + [1] * per_class


# --- neighbours ---------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:Could not find the number of physical cores")  # joblib, under the unit guard
@pytest.mark.parametrize("n,k,tile", [(700, 10, 128), (300, 5, 1000), (129, 3, 64)])
def test_nearest_matches_scikit_learn(n, k, tile):
    from sklearn.neighbors import NearestNeighbors
    rng = np.random.default_rng(n)
    features = rng.standard_normal((n, 24)).astype(np.float32)
    found = nearest(features, k, tile=tile)
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    distance, index = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(unit).kneighbors(unit)
    assert found.indices.shape == found.sims.shape == (n, k)
    assert (found.indices != np.arange(n)[:, None]).all()          # never itself
    np.testing.assert_array_equal(np.sort(found.indices, axis=1), np.sort(index[:, 1:], axis=1))
    np.testing.assert_allclose(found.sims, 1 - distance[:, 1:] ** 2 / 2, atol=1e-5)
    assert (np.diff(found.sims, axis=1) <= 0).all()                 # nearest first


def test_rows_the_scan_leaves_short_are_searched_again(monkeypatch):
    """Were rounding ever to put the first bar above a row's true k-th best, the row
    would be searched again in full rather than come back short."""
    from vergeml.doctor import neighbours
    features = np.random.default_rng(2).standard_normal((90, 6))
    exact = nearest(features, 4, tile=32)
    monkeypatch.setattr(neighbours, "SLACK", -2.0)   # a bar nothing passes
    neighbours._LAST.clear()                         # the last answer is kept
    again = nearest(features, 4, tile=32)
    np.testing.assert_array_equal(again.indices, exact.indices)
    np.testing.assert_allclose(again.sims, exact.sims, atol=1e-6)


def test_the_last_answer_is_kept_for_the_same_features_only():
    features = np.random.default_rng(4).standard_normal((50, 6)).astype(np.float32)
    first = nearest(features, 3)
    first.indices[:] = -7                             # the caller's copy
    assert (nearest(features.copy(), 3).indices >= 0).all()
    changed = features.copy()
    changed[0] = -changed[0]
    assert not np.array_equal(nearest(changed, 3).sims, nearest(features, 3).sims)


def test_nearest_with_copies_ties_and_few_rows():
    features = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0, 0]], np.float32)
    found = nearest(features, 10)
    assert found.indices.shape == (5, 4)                            # at most n - 1
    assert set(found.indices[0, :2]) == {1, 2} and found.sims[0, 0] == pytest.approx(1)
    assert (found.indices >= 0).all()
    assert nearest(features[:1], 3).indices.shape == (1, 0)
    assert nearest(np.zeros((0, 4)), 3).indices.shape == (0, 0)


def test_nearest_memory_is_one_tile(monkeypatch):
    """The search never builds the n x n matrix: every GEMM output is at most one tile."""
    largest = []
    real = np.matmul

    def watched(a, b, *args, **kwargs):
        result = real(a, b, *args, **kwargs)
        largest.append(result.size)
        return result
    monkeypatch.setattr(np, "matmul", watched)
    nearest(np.random.default_rng(0).standard_normal((600, 8)), 5, tile=100)
    assert max(largest) <= 100 * 100


# --- outliers -----------------------------------------------------------------

def test_far_image_is_an_outlier_and_normal_ones_are_not():
    rng = np.random.default_rng(3)
    features, labels = two_classes(rng)
    stray = rng.standard_normal(32) * 2                 # near neither class
    data = audit(np.vstack([features, stray]), labels + [1])
    found = find_outliers(data)
    assert [f.files for f in found] == [(data.files[-1],)]
    assert found[0].kind == "outlier" and 0 < found[0].score <= 1
    assert found[0].labels == ("loose",) and "far from every class" in found[0].why


def test_clean_classes_have_no_outliers():
    for seed in range(3):
        features, labels = two_classes(np.random.default_rng(seed))
        assert find_outliers(audit(features, labels)) == []


def test_loose_class_is_judged_by_its_own_spread():
    """A loose class's images are far from their neighbours compared with a tight class's;
    none of them is an outlier for that."""
    features, labels = two_classes(np.random.default_rng(5), tight=0.01, loose=0.6)
    assert find_outliers(audit(features, labels)) == []


def test_an_image_near_another_class_is_not_an_outlier():
    rng = np.random.default_rng(7)
    features, labels = two_classes(rng)
    wrong = features[0] + rng.normal(0, 0.05, 32)        # a tight-class image filed as loose
    assert find_outliers(audit(np.vstack([features, wrong]), labels + [1])) == []


# --- imbalance ----------------------------------------------------------------

def counts_data(counts, other_split=()):
    labels, splits = [], []
    for label, count in enumerate(counts):
        labels += [label] * count
        splits += ["train"] * count
    for label, count in other_split:
        labels += [label] * count
        splits += ["test"] * count
    names = [f"c{i}" for i in range(len(counts))]
    return audit(np.zeros((len(labels), 2)), labels, names=names, splits=splits)


def test_imbalance_from_three_to_one():
    found = find_imbalance(counts_data([30, 10]))
    assert len(found) == 1 and found[0].kind == "imbalance" and found[0].files == ()
    assert found[0].score == pytest.approx(0.5)
    assert "c0 30, c1 10" in found[0].why and "3.0:1" in found[0].why
    assert find_imbalance(counts_data([29, 10])) == []


def test_imbalance_counts_the_training_split_only():
    assert find_imbalance(counts_data([10, 10], other_split=[(0, 100)])) == []
    assert find_imbalance(counts_data([100, 20, 10]))[0].score > find_imbalance(counts_data([30, 10]))[0].score


def test_a_class_without_training_images():
    found = find_imbalance(counts_data([10, 0], other_split=[(1, 5)]))
    assert found[0].score == 1.0 and "c1 has none" in found[0].why


def test_one_class_is_no_imbalance():
    assert find_imbalance(counts_data([10])) == []
