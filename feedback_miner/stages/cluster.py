"""Cluster stage: recurring problems within one category by UMAP + HDBSCAN.

Embeddings are reduced with UMAP (cosine, ``dims`` components, fixed ``random_state`` so the same
input gives the same problems), clustered with HDBSCAN, and texts HDBSCAN calls noise join the
nearest cluster only when their cosine similarity to its centroid reaches ``assign_threshold``;
the rest stay unclustered (kept and counted, never dropped). Choices measured in
``benchmarks/bench_quality.py`` (banking77: UMAP+HDBSCAN vs PCA/raw, vs BERTopic defaults).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from feedback_miner.errors import InputError

__all__ = ["ClusterParams", "auto_min_cluster_size", "centroids", "cluster_embeddings"]


@dataclass(frozen=True)
class ClusterParams:
    min_cluster_size: int = 0  # 0 = auto_min_cluster_size(n)
    dims: int = 8
    n_neighbors: int = 15
    assign_threshold: float = 0.5
    random_state: int = 42
    # HDBSCAN cluster_selection_method. "leaf" keeps problems specific: on demo weeks its problems are
    # 88-93% homogeneous against 76-79% for "eom", which lumped distinct payment problems into one
    # (benchmarks/README.md); fragments of one known problem are joined by the registry.
    selection: str = "leaf"

    def __post_init__(self) -> None:
        if self.min_cluster_size < 0 or self.min_cluster_size == 1:
            raise InputError(f"min_cluster_size must be 0 (auto) or >= 2, got {self.min_cluster_size}")
        if self.dims < 2:
            raise InputError(f"dims must be >= 2, got {self.dims}")
        if self.n_neighbors < 2:
            raise InputError(f"n_neighbors must be >= 2, got {self.n_neighbors}")
        if self.selection not in ("leaf", "eom"):
            raise InputError(f"selection must be 'leaf' or 'eom', got {self.selection!r}")
        if not -1.0 <= self.assign_threshold <= 1.0:
            raise InputError(f"assign_threshold must be in [-1, 1], got {self.assign_threshold}")


SINGLE_CLUSTER_BELOW = 60


def auto_min_cluster_size(n: int) -> int:
    """Twice the natural log of the group size, at least 3: 10 → 5, 40 → 7, 400 → 12, 3000 → 16.

    Measured against half the square root (benchmarks/README.md): on banking77 NMI 0.842 / ARI
    0.578 vs 0.841 / 0.559; in the 58-week replay 6.5 vs 12.1 false alerts per 10 weeks and spike
    id stability 0.81 vs 0.62, with the same recall.
    """
    return max(3, round(2 * math.log(max(n, 1))))


def centroids(X: np.ndarray, labels: np.ndarray) -> dict[int, np.ndarray]:
    out: dict[int, np.ndarray] = {}
    for k in sorted(int(v) for v in set(labels.tolist()) if v >= 0):
        c = X[labels == k].mean(axis=0)
        out[k] = c / max(float(np.linalg.norm(c)), 1e-12)
    return out


def cluster_embeddings(X: np.ndarray, params: ClusterParams | None = None) -> np.ndarray:
    """Cluster labels (0..k-1, -1 = unclustered) for unit-normalised embeddings ``X``."""
    import hdbscan

    params = params or ClusterParams()
    X = np.asarray(X, dtype=np.float32)
    n = len(X)
    mcs = params.min_cluster_size or auto_min_cluster_size(n)
    if n < max(2 * mcs, 6):
        return np.full(n, -1, dtype=np.int64)
    if n > params.dims + 2:
        import umap

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Z = umap.UMAP(
                n_neighbors=min(params.n_neighbors, n - 1), n_components=params.dims, min_dist=0.0,
                metric="cosine", random_state=params.random_state, n_jobs=1,
            ).fit_transform(X)
    else:
        Z = X
    labels = hdbscan.HDBSCAN(min_cluster_size=mcs, cluster_selection_method=params.selection).fit_predict(Z)
    if n < SINGLE_CLUSTER_BELOW and (np.asarray(labels) < 0).all():
        # A small group may hold one problem only; HDBSCAN finds none then unless allowed.
        labels = hdbscan.HDBSCAN(min_cluster_size=mcs, cluster_selection_method="eom",
                                 allow_single_cluster=True).fit_predict(Z)
    labels = np.asarray(labels, dtype=np.int64)
    cents = centroids(X, labels)
    if cents:
        keys = np.array(list(cents))
        sims = X @ np.stack([cents[k] for k in keys]).T
        best = sims.argmax(axis=1)
        noise = (labels == -1) & (sims[np.arange(n), best] >= params.assign_threshold)
        labels[noise] = keys[best[noise]]
    return labels
