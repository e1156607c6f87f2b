"""The unknown score (``vergeml.trust.ood_score``): small synthetic arrays, no TensorFlow."""
import io

import numpy as np
import pytest

from vergeml.trust.ood_score import K, OODScore, fit_ood, fit_threshold


def clusters(n=60, dim=16, classes=3, seed=0):
    """Non-negative features around one direction per class, like pooled ReLU outputs."""
    rng = np.random.default_rng(seed)
    centres = np.abs(rng.normal(size=(classes, dim))) * 3
    labels = np.arange(n) % classes
    return np.abs(centres[labels] + rng.normal(scale=0.3, size=(n, dim))).astype("float32"), labels


def test_a_far_point_scores_higher_than_a_training_like_one():
    x, y = clusters()
    ood = fit_ood(x, y)
    near = x[:3] * 1.5 + 0.01            # same directions: cosine ignores the scale
    far = np.zeros((3, x.shape[1]), "float32")
    far[:, 0] = 1.0                      # one axis only: unlike every class
    near_scores, far_scores = ood.score(near), ood.score(far)
    assert near_scores.shape == (3,)
    assert near_scores.max() < far_scores.min()
    assert np.all((near_scores >= 0) & (far_scores <= 1))


def test_the_score_is_the_mean_cosine_distance_to_the_k_nearest():
    bank = np.eye(3, dtype="float32")
    ood = fit_ood(bank * 5, k=2)
    point = np.array([[1.0, 1.0, 0.0]], "float32")
    assert ood.k == 2
    assert ood.score(point)[0] == pytest.approx(1 - 1 / np.sqrt(2))
    np.testing.assert_allclose(np.linalg.norm(ood.bank, axis=1), 1.0, rtol=1e-6)
    assert ood.bank.dtype == np.float32


def test_threshold_keeps_the_asked_share():
    scores = np.random.default_rng(1).random(999)
    threshold = fit_threshold(scores, keep=0.95)
    kept = (scores <= threshold).mean()
    assert 0.95 <= kept <= 0.952
    assert fit_threshold(scores, keep=1.0) == scores.max()


def test_threshold_on_few_scores_is_conservative():
    scores = np.arange(30, dtype=float)
    assert fit_threshold(scores, keep=0.95) == 29.0     # rank ceil(31 * 0.95) = 30: the largest
    assert fit_threshold(scores, keep=0.5) == 15.0      # rank ceil(15.5) = 16
    assert fit_threshold([0.3], keep=0.95) == 0.3


def test_threshold_needs_scores_and_a_share():
    with pytest.raises(ValueError, match="at least one"):
        fit_threshold([])
    with pytest.raises(ValueError, match="keep"):
        fit_threshold([0.1, 0.2], keep=0.0)


def test_save_and_load_round_trip_through_npz():
    x, y = clusters()
    ood = fit_ood(x, y)
    buffer = io.BytesIO()
    np.savez(buffer, **ood.to_arrays())
    buffer.seek(0)
    with np.load(buffer) as arrays:
        loaded = OODScore.from_arrays(dict(arrays))
    assert loaded.k == ood.k and isinstance(loaded.k, int)
    np.testing.assert_array_equal(loaded.bank, ood.bank)
    probe, _ = clusters(n=10, seed=5)
    np.testing.assert_array_equal(loaded.score(probe), ood.score(probe))
    assert "2 nearest" in loaded.describe() and "60 x 16" in loaded.describe()


def test_from_arrays_refuses_a_broken_file():
    with pytest.raises(ValueError, match="not a fitted"):
        OODScore.from_arrays({"bank": np.zeros((1, 4), "float32"), "k": np.int64(2)})


def test_one_class_works():
    x, _ = clusters(classes=1)
    ood = fit_ood(x, np.zeros(len(x), int))
    far = np.ones((1, x.shape[1]), "float32")
    far[0, :8] = 0
    assert ood.score(x[:1])[0] < ood.score(far)[0]


def test_fewer_training_rows_than_k():
    ood = fit_ood(np.array([[1.0, 0.0]], "float32"), [0], k=K + 3)
    assert ood.k == 1
    np.testing.assert_allclose(ood.score([[2.0, 0.0], [0.0, 1.0]]), [0.0, 1.0], atol=1e-6)


def test_zero_vectors_score_one_and_do_not_divide_by_zero():
    x, y = clusters()
    x[0] = 0.0                                       # a blank training image
    ood = fit_ood(x, y)
    assert np.all(np.isfinite(ood.bank))
    scores = ood.score(np.zeros((2, x.shape[1]), "float32"))
    np.testing.assert_allclose(scores, 1.0)


def test_empty_input_and_wrong_width():
    ood = fit_ood(*clusters())
    assert ood.score(np.zeros((0, 16), "float32")).shape == (0,)
    with pytest.raises(ValueError, match="shape"):
        ood.score(np.zeros((2, 5), "float32"))
    with pytest.raises(ValueError, match="at least one"):
        fit_ood(np.zeros((0, 16), "float32"))


def test_the_bank_is_capped_by_a_seeded_stratified_subsample():
    x, y = clusters(n=300, classes=3)
    y = np.where(np.arange(300) < 30, 0, np.where(np.arange(300) < 150, 1, 2))  # 30 / 120 / 150
    ood = fit_ood(x, y, max_bank=50, seed=3)
    again = fit_ood(x, y, max_bank=50, seed=3)
    assert ood.bank.shape == (50, 16)
    np.testing.assert_array_equal(ood.bank, again.bank)
    rows = {tuple(np.round(r, 5)) for r in ood.bank}
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    kept = [i for i in range(300) if tuple(np.round(unit[i], 5)) in rows]
    counts = np.bincount(y[kept], minlength=3)
    assert counts.sum() == 50 and counts[0] >= 4 and counts[2] >= 23  # about 5 / 20 / 25


def test_leave_one_out_scores_a_bank_image_as_unseen():
    from vergeml.trust.ood_score import fit_ood
    rng = np.random.default_rng(3)
    features = np.abs(rng.normal(size=(30, 8))).astype(np.float32)
    ood = fit_ood(features, k=2)
    plain, held_out = ood.score(features), ood.score(features, leave_one_out=True)
    assert (held_out > plain).all()  # its own match (similarity 1) no longer counts
    # Left out, an image scores as against a bank without it.
    alone = fit_ood(features[1:], k=2).score(features[:1])
    assert held_out[0] == pytest.approx(alone[0], abs=1e-6)


def test_scores_in_chunks_equal_scores_at_once(monkeypatch):
    from vergeml.trust import ood_score
    rng = np.random.default_rng(4)
    ood = ood_score.fit_ood(rng.normal(size=(50, 6)))
    queries = rng.normal(size=(23, 6))
    whole = ood.score(queries)
    monkeypatch.setattr(ood_score, "CHUNK", 5)
    np.testing.assert_allclose(ood.score(queries), whole)
    assert ood.score(np.zeros((0, 6))).shape == (0,)


def test_fit_rejection_pools_training_and_validation_images():
    from vergeml.trust.ood_score import fit_rejection
    rng = np.random.default_rng(5)
    train, val = np.abs(rng.normal(size=(60, 8))), np.abs(rng.normal(size=(15, 8)))
    ood, threshold = fit_rejection(train, np.zeros(60), val, np.zeros(15), keep=0.9)
    assert ood.bank.shape == (75, 8)
    held_out = ood.score(np.concatenate([train, val]), leave_one_out=True)
    assert np.mean(held_out > threshold) <= 0.1
    far = -np.abs(rng.normal(size=(5, 8)))  # the opposite direction: cosine distance near 2
    assert (ood.score(far) > threshold).all()
    # No validation split: the training images alone.
    assert fit_rejection(train, np.zeros(60), np.zeros((0, 8)), np.zeros(0))[0].bank.shape == (60, 8)
