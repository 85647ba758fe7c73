"""The compiled small-data distance matrix is scikit-learn's callable path bit for bit, so UMAP is unchanged."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

umap = pytest.importorskip("umap")

from sklearn.metrics import pairwise_distances  # noqa: E402
from umap.distances import cosine  # noqa: E402

from feedback_miner.stages import umap_distances  # noqa: E402


def _data(n: int, dtype: type, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = np.vstack([c + 0.2 * rng.normal(size=(n // 4, 48)) for c in rng.normal(size=(4, 48))]).astype(dtype)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    X[3] = X[1]  # an exact duplicate: distance 0 off the diagonal
    return X


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_matrix_bit_for_bit(dtype: type) -> None:
    X = _data(240, dtype)
    want = pairwise_distances(X, metric=cosine)
    got = umap_distances.cosine_distance_matrix(X)
    assert got.dtype == want.dtype
    assert np.array_equal(got, want)


def test_installed_route_keeps_umap_results_and_other_metrics() -> None:
    import umap.umap_ as uu

    X = _data(200, np.float32, seed=1)

    def fit() -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(umap.UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                                        random_state=42, n_jobs=1).fit_transform(X))

    before = fit() if not umap_distances.installed() else None
    umap_distances.install()
    umap_distances.install()  # idempotent
    assert getattr(uu.pairwise_distances, "_fm_fast", False)
    if before is not None:
        assert np.array_equal(fit(), before)
    assert np.array_equal(uu.pairwise_distances(X, metric="euclidean"), pairwise_distances(X, metric="euclidean"))
    assert np.array_equal(uu.pairwise_distances(X, metric=cosine), pairwise_distances(X, metric=cosine))


def test_exact_knn_matches_a_full_sort() -> None:
    from feedback_miner.stages.umap_distances import exact_cosine_knn

    rng = np.random.default_rng(5)
    X = rng.normal(size=(700, 32)).astype(np.float32)
    X[10] = X[3]  # an exact duplicate: distance 0, itself still first
    idx, dist = exact_cosine_knn(X, 15, block_bytes=4 * 700 * 64)  # several blocks
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    S = Xn @ Xn.T
    np.fill_diagonal(S, 2.0)
    for i in (0, 3, 10, 350, 699):
        want = np.lexsort((np.arange(700), -S[i]))[:15]
        assert idx[i].tolist() == want.tolist()
        assert idx[i][0] == i and dist[i][0] == 0.0
        assert np.allclose(dist[i][1:], 1.0 - S[i][want[1:]], atol=1e-5)
    assert 3 in idx[10][:2].tolist() and dist[10][1] == 0.0
