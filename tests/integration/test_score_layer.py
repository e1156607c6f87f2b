"""The unknown score inside the model (vergeml/runtimes/score_layer.py) is the score
training fits its threshold on (vergeml/trust/ood_score.py): same numbers, zero rows too."""
import numpy as np

from vergeml.runtimes.score_layer import nearest_distance
from vergeml.trust.ood_score import fit_ood


def test_the_keras_layer_scores_as_numpy_does():
    import keras
    rng = np.random.default_rng(0)
    ood = fit_ood(np.abs(rng.normal(size=(40, 16))), k=2)
    queries = np.abs(rng.normal(size=(9, 16))).astype(np.float32)
    queries[0] = 0.0  # a zero feature vector: scores 1 in both
    inputs = keras.Input((16,))
    model = keras.Model(inputs, nearest_distance(inputs, ood.bank, ood.k))
    got = model.predict(queries, verbose=0)
    assert got.shape == (9, 1)
    np.testing.assert_allclose(got[:, 0], ood.score(queries), atol=1e-6)
    assert got[0, 0] == 1.0
