"""Speed changes measured by monkeypatching before they were wired (docs/PERFORMANCE.md, "Wiring").
``jit``, ``dmat`` and ``spans`` are now on main, so applying them changes nothing; ``knn`` is still a
proposal; clustering over two processes is wired (``stages.cluster.cluster_groups``) and ``serial``
turns it off for comparison.

``apply(names)`` with any of:

* ``jit``      — ``feedback_miner.adapters.jit_cache.enable_jit_cache()`` before umap is imported
                 (wire: ``bootstrap.Container.__init__``, when ``settings.jit_cache``).
* ``knn``      — exact cosine k-nearest neighbours by blocked matrix products, handed to UMAP as
                 ``precomputed_knn`` for every category. Wired since 2026-12-02 above 4,096 texts a
                 category (where UMAP ran pynndescent); below that the shipped code keeps UMAP's
                 full distance matrix (``dmat``), so this proposal changes only the small categories.
* ``serial``   — categories clustered in one process (``ClusterParams(workers=1)``), for comparison
                 with the shipped default (both cores from 8,000 texts, ``stages.cluster.cluster_groups``).
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

from feedback_miner.stages.umap_distances import exact_cosine_knn

ALL = ("jit", "knn", "serial", "dmat", "spans")
_applied: set[str] = set()


# --- knn ---------------------------------------------------------------------------------------
# ``exact_cosine_knn`` is the product's own (stages.umap_distances), which it uses above 4,096 rows
# per category; this proposal hands it to UMAP for every category, small ones included.
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
