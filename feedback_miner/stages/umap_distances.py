"""UMAP's small-data distance matrix in compiled code: the same numbers, without n²/2 Python calls.

Below 4,096 rows UMAP computes every pairwise distance with scikit-learn's ``pairwise_distances``
given UMAP's own numba ``cosine`` as a Python callable, so scikit-learn calls it once per pair
from Python: 4.5 million calls for a 3,000-text category, 15 s of CPU of a 10,000-text ``analyze``
(docs/PERFORMANCE.md). :func:`install` swaps the name UMAP uses for a function that does exactly
what scikit-learn's callable path does (upper triangle with that same ``cosine``, stored in the
input's float dtype, mirrored, diagonal last) inside one compiled loop, and hands every other call
to scikit-learn unchanged. The matrix is bit for bit the same (tests/unit/test_umap_distances.py),
so UMAP's graph, embedding and the clusters are too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["SMALL_DATA_BELOW", "cosine_distance_matrix", "exact_cosine_knn", "install", "installed"]

SMALL_DATA_BELOW = 4096
"""UMAP computes the full distance matrix below this many rows, and runs pynndescent from it."""

_lock = threading.Lock()
_kernel: Any = None
_installed = False


def _compiled() -> Any:
    global _kernel
    if _kernel is None:
        import numba
        from umap.distances import cosine

        @numba.njit(nogil=True)
        def kernel(X: Any, out: Any) -> None:  # pragma: no cover - compiled
            n = X.shape[0]
            for i in range(n):
                for j in range(i + 1, n):
                    out[i, j] = cosine(X[i], X[j])
            for i in range(n):
                for j in range(i):
                    out[i, j] = out[j, i]  # = out + out.T: one side is 0
            for i in range(n):
                out[i, i] = cosine(X[i], X[i])

        _kernel = kernel
    return _kernel


def cosine_distance_matrix(X: np.ndarray) -> np.ndarray:
    """``sklearn.metrics.pairwise_distances(X, metric=umap.distances.cosine)`` for a dense float array."""
    out = np.zeros((X.shape[0], X.shape[0]), dtype=X.dtype)
    _compiled()(np.ascontiguousarray(X), out)
    return out


def _fast(original: Callable[..., Any]) -> Callable[..., Any]:
    from umap.distances import cosine

    def pairwise_distances(X: Any, Y: Any = None, metric: Any = "euclidean", **kwds: Any) -> Any:
        if (metric is cosine and Y is None and not kwds and isinstance(X, np.ndarray) and X.ndim == 2
                and X.dtype in (np.float32, np.float64) and np.isfinite(X).all()):
            return cosine_distance_matrix(X)
        return original(X, Y, metric=metric, **kwds)

    pairwise_distances._fm_fast = True  # type: ignore[attr-defined]
    return pairwise_distances


def install() -> None:
    """Route UMAP's small-data cosine distance matrix through :func:`cosine_distance_matrix` (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        import umap.umap_ as uu

        if not getattr(uu.pairwise_distances, "_fm_fast", False):
            uu.pairwise_distances = _fast(uu.pairwise_distances)
        _installed = True


def installed() -> bool:
    return _installed


def exact_cosine_knn(X: np.ndarray, k: int, *, block_bytes: int = 16 << 20) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine distances of each row's ``k`` nearest rows (itself first), exactly.

    For groups of ``SMALL_DATA_BELOW`` rows or more, where UMAP would run pynndescent: its
    approximate search costs more than this blocked ``X @ X.T`` (float32, ``block_bytes`` of memory
    whatever n) and compiles about 25 s of numba code in every process, which the JIT cache cannot
    keep (docs/PERFORMANCE.md section 7). Ties by index; a row's distance to itself and to exact
    duplicates is 0, as UMAP's ``cosine`` gives.
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
        d[d < 1e-6] = 0.0
        dist[s : s + step] = d
    return idx, dist
