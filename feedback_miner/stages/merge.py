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

__all__ = ["CROSS_CATEGORY_THRESHOLD", "MERGE_THRESHOLD", "Cluster", "majority_category", "merge_anchored", "merge_clusters"]

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
    return [c for c, _ in merge_anchored(X, clusters, [None] * len(clusters), threshold=threshold,
                                         cross_category_threshold=cross_category_threshold)]


def merge_anchored(
    X: npt.NDArray[np.floating],
    clusters: Sequence[Cluster],
    anchors: Sequence[str | None],
    *,
    threshold: float = MERGE_THRESHOLD,
    cross_category_threshold: float = CROSS_CATEGORY_THRESHOLD,
    anchored_threshold: float | None = None,
) -> list[tuple[Cluster, str | None]]:
    """:func:`merge_clusters` that respects known identities: ``anchors[k]`` is the known problem
    cluster ``k`` matched (``None``: it matched none). Two clusters anchored to different known
    problems never merge; a merged cluster keeps the anchor of its members. ``anchored_threshold``
    (default: ``threshold``) applies to same-category pairs of which exactly one is anchored (an
    unmatched fragment joining a known problem's cluster). Returns (cluster, anchor) pairs, largest
    first."""
    if len(anchors) != len(clusters):
        raise InputError(f"one anchor per cluster: {len(anchors)} anchors for {len(clusters)} clusters")
    for name, value in (("threshold", threshold), ("cross_category_threshold", cross_category_threshold)):
        if not -1.0 <= value <= 1.0:
            raise InputError(f"{name} must be a cosine in [-1, 1], got {value}")
    kept = [(Cluster(list(c.members), list(c.categories)), a) for c, a in zip(clusters, anchors) if c.members]
    work = [c for c, _ in kept]
    anchor = [a for _, a in kept]
    if len(work) < 2:
        return kept
    sums = [np.asarray(X[c.members], dtype=np.float64).sum(axis=0) for c in work]
    same_limit = threshold if anchored_threshold is None else anchored_threshold
    # The pair matrix is built once; after each merge only the merged cluster's row and column are
    # recomputed (O(K) similarities and masks per merge instead of the whole K x K matrix each time).
    codes: dict[str, int] = {}
    cat = np.array([codes.setdefault(c.category, len(codes)) for c in work], dtype=np.int64)
    anchor_ids: dict[str, int] = {}
    known = np.array([-1 if a is None else anchor_ids.setdefault(a, len(anchor_ids)) for a in anchor], dtype=np.int64)
    alive = np.ones(len(work), dtype=bool)
    C = np.stack([_unit(v) for v in sums])

    def gap_row(i: int, sims: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Similarity minus the merge limit of cluster ``i`` against every cluster (``-inf``: never)."""
        one_known = (known[i] < 0) != (known < 0)
        limit = np.where(cat == cat[i], np.where(one_known, same_limit, threshold), cross_category_threshold)
        row = sims - limit
        row[(known[i] >= 0) & (known >= 0) & (known != known[i])] = -np.inf
        row[~alive] = -np.inf
        row[i] = -np.inf
        return row

    S = C @ C.T
    gap = np.stack([gap_row(i, S[i]) for i in range(len(work))])
    while alive.sum() > 1:
        a, b = np.unravel_index(int(np.argmax(gap)), gap.shape)
        if gap[a, b] < 0:
            break
        keep, drop = int(min(a, b)), int(max(a, b))
        work[keep].members += work[drop].members
        work[keep].categories += work[drop].categories
        sums[keep] = sums[keep] + sums[drop]
        anchor[keep] = anchor[keep] or anchor[drop]
        known[keep] = known[keep] if known[keep] >= 0 else known[drop]
        cat[keep] = codes.setdefault(work[keep].category, len(codes))
        alive[drop] = False
        gap[drop, :] = -np.inf
        gap[:, drop] = -np.inf
        C[keep] = _unit(sums[keep])
        row = gap_row(keep, C @ C[keep])
        gap[keep, :] = row
        gap[:, keep] = row
    out = [(work[i], anchor[i]) for i in np.flatnonzero(alive)]
    for c, _ in out:
        order = np.argsort(c.members, kind="stable")
        c.members = [c.members[j] for j in order]
        c.categories = [c.categories[j] for j in order]
    out.sort(key=lambda ca: (-len(ca[0].members), ca[0].members[0]))
    return out

