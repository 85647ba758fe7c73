"""Merge near-duplicate clusters of one run: one real problem, one entry.

HDBSCAN's leaf selection keeps problems specific but splits a large group (a problem with 200
texts written in several styles) into fragments. :func:`merge_clusters` joins fragments whose
member centroids are near duplicates, greedily, most similar pair first, recomputing the merged
centroid each time (average linkage on unit centroids). Clusters of different categories merge
too (a problem is one thing even when the classifier put its texts in two categories), at their
own threshold; the merged problem's category is its members' majority and the disagreement is
kept (``Cluster.categories``) so the digest can say so.

Thresholds were measured with ``benchmarks/bench_problems.py`` (banking77 test, bitext 100-300 per
intent, the demo): purity and fragmentation are read together, never one alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from feedback_miner.errors import InputError

__all__ = ["CROSS_CATEGORY_THRESHOLD", "MERGE_THRESHOLD", "Cluster", "majority_category", "merge_clusters"]

MERGE_THRESHOLD = 0.85
"""Centroid cosine at which two clusters of one category are one problem."""
CROSS_CATEGORY_THRESHOLD = 0.9
"""Centroid cosine at which two clusters of different categories are one problem."""


@dataclass
class Cluster:
    """Row indices of one cluster and the category of each member (as classified or given)."""

    members: list[int]
    categories: list[str]

    @property
    def category(self) -> str:
        return majority_category(self.categories)


def majority_category(categories: Sequence[str]) -> str:
    """The most common category; ties go to the first in alphabetical order (deterministic)."""
    if not categories:
        raise InputError("a cluster needs at least one member to have a category")
    counts = Counter(categories)
    top = max(counts.values())
    return min(c for c, n in counts.items() if n == top)


def _unit(v: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    out = np.asarray(v, dtype=np.float64)
    return out / max(float(np.linalg.norm(out)), 1e-12)


def merge_clusters(
    X: npt.NDArray[np.floating],
    clusters: Sequence[Cluster],
    *,
    threshold: float = MERGE_THRESHOLD,
    cross_category_threshold: float = CROSS_CATEGORY_THRESHOLD,
) -> list[Cluster]:
    """Join near-duplicate clusters (see the module docstring); returns the clusters, largest first.

    ``X`` holds the unit embeddings of all texts of the run; ``Cluster.members`` index its rows.
    Deterministic: ties are broken by the clusters' order.
    """
    for name, value in (("threshold", threshold), ("cross_category_threshold", cross_category_threshold)):
        if not -1.0 <= value <= 1.0:
            raise InputError(f"{name} must be a cosine in [-1, 1], got {value}")
    work = [Cluster(list(c.members), list(c.categories)) for c in clusters if c.members]
    if len(work) < 2:
        return work
    sums = [np.asarray(X[c.members], dtype=np.float64).sum(axis=0) for c in work]
    alive = list(range(len(work)))
    while len(alive) > 1:
        C = np.stack([_unit(sums[i]) for i in alive])
        S = C @ C.T
        cats = [work[i].category for i in alive]
        same = np.array([[a == b for b in cats] for a in cats])
        limit = np.where(same, threshold, cross_category_threshold)
        gap = S - limit
        np.fill_diagonal(gap, -np.inf)
        a, b = np.unravel_index(int(np.argmax(gap)), gap.shape)
        if gap[a, b] < 0:
            break
        keep, drop = alive[min(a, b)], alive[max(a, b)]
        work[keep].members += work[drop].members
        work[keep].categories += work[drop].categories
        sums[keep] = sums[keep] + sums[drop]
        alive.remove(drop)
    out = [work[i] for i in alive]
    for c in out:
        order = np.argsort(c.members, kind="stable")
        c.members = [c.members[j] for j in order]
        c.categories = [c.categories[j] for j in order]
    out.sort(key=lambda c: (-len(c.members), c.members[0]))
    return out
