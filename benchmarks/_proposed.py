"""Speed changes measured by monkeypatching before they were wired (docs/PERFORMANCE.md, "Wiring").
``jit``, ``dmat`` and ``spans`` are now on main, so applying them changes nothing; ``knn`` is still a
proposal; clustering over two processes is wired (``stages.cluster.cluster_groups``) and ``serial``
turns it off for comparison.

``apply(names)`` with any of:

* ``jit``      — ``feedback_miner.adapters.jit_cache.enable_jit_cache()`` before umap is imported
                 (wire: ``bootstrap.Container.__init__``, when ``settings.jit_cache``).
* ``knn``      — exact cosine k-nearest neighbours by blocked matrix products, handed to UMAP as
                 ``precomputed_knn`` (wire: ``stages/cluster.py``). UMAP otherwise computes the full
                 distance matrix of a category under 4,096 texts through scikit-learn calling the
                 numba ``cosine`` once per pair from Python (n²/2 calls), and above 4,096 runs
                 pynndescent (approximate, with its own JIT compilation).
* ``serial``   — categories clustered in one process (``ClusterParams(workers=1)``), for comparison
                 with the shipped default (both cores from 3,000 texts, ``stages.cluster.cluster_groups``).
* ``dmat``     — UMAP's small-data cosine distance matrix in one compiled loop,
                 ``feedback_miner.stages.umap_distances.install()`` (wire: ``stages/cluster.py``, after
                 ``import umap``); bit-for-bit the same matrix, so the same labels.
* ``spans``    — ``stages.span_counts.outside_counts_of_own_spans`` in place of
                 ``titles.outside_counts`` (linear instead of problems × distinct spans); same titles.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

ALL = ("jit", "knn", "serial", "dmat", "spans")
_applied: set[str] = set()


# --- knn ---------------------------------------------------------------------------------------
def exact_cosine_knn(X: np.ndarray, k: int, *, block_bytes: int = 16 << 20) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine distances of each row's ``k`` nearest rows (itself first), exactly.

    Blocked ``X @ X.T`` in float32 (memory ``block_bytes`` whatever n); distances as UMAP's
    ``cosine`` gives them, with a row's distance to itself and to exact duplicates 0.
    """
    X = np.asarray(X, dtype=np.float32)
    n = len(X)
    k = min(k, n)
    Xn = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    idx = np.empty((n, k), dtype=np.int64)
    dist = np.empty((n, k), dtype=np.float32)
    step = max(1, block_bytes // (4 * n))
    for s in range(0, n, step):
        sims = Xn[s : s + step] @ Xn.T
        rows = np.arange(s, min(s + step, n))
        sims[rows - s, rows] = 2.0  # itself first, whatever the rounding
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(sims, part, axis=1)
        order = np.lexsort((part, -top), axis=1)  # by similarity, ties by index
        idx[s : s + step] = np.take_along_axis(part, order, axis=1)
        d = 1.0 - np.take_along_axis(top, order, axis=1)
        d[d < 1e-6] = 0.0  # itself and exact duplicates: 0, as UMAP's float64 cosine gives
        dist[s : s + step] = d
    return idx, dist


def _patch_umap() -> None:
    import umap

    base = umap.UMAP
    if getattr(base, "_fm_exact_knn", False):
        return

    class ExactKnnUMAP(base):  # type: ignore[misc, valid-type]
        _fm_exact_knn = True

        def fit_transform(self, X: np.ndarray, y: Any = None, **kw: Any) -> np.ndarray:
            if self.metric == "cosine" and self.precomputed_knn[0] is None and isinstance(X, np.ndarray):
                self.precomputed_knn = exact_cosine_knn(X, self.n_neighbors)
                self.force_approximation_algorithm = True
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return super().fit_transform(X, y, **kw)

    umap.UMAP = ExactKnnUMAP


def apply(names: Iterable[str]) -> list[str]:
    """Apply the named changes (idempotent); returns those applied."""
    names = [n for n in names if n]
    unknown = set(names) - set(ALL)
    if unknown:
        raise SystemExit(f"unknown proposed change(s) {sorted(unknown)}; known: {', '.join(ALL)}")
    if "jit" in names and "jit" not in _applied:
        from feedback_miner.adapters.jit_cache import enable_jit_cache

        enable_jit_cache()
    if "knn" in names:
        _patch_umap()
    if "dmat" in names:
        from feedback_miner.stages import umap_distances

        umap_distances.install()
    if "spans" in names:
        from feedback_miner.stages import problems, span_counts

        if hasattr(problems, "outside_counts"):
            problems.outside_counts = span_counts.outside_counts_of_own_spans
    _applied.update(names)
    return sorted(_applied)
