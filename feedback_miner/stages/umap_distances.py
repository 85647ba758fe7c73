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

__all__ = ["cosine_distance_matrix", "install", "installed"]

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
