"""Find problems: cluster each category, describe and score every cluster.

Pure: takes items, their unit embeddings and their (given or predicted) categories; returns
:class:`Problem` objects in priority order and each item's problem id (``None`` = unclustered).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from feedback_miner.domain import scoring
from feedback_miner.domain.types import CATEGORY_IDS, FeedbackItem, Problem
from feedback_miner.stages.cluster import ClusterParams, cluster_embeddings
from feedback_miner.stages.describe import breakdowns, diverse_quotes, error_codes, keywords_by_cluster, title_for
from feedback_miner.stages.protocols import NullProgress, Progress

__all__ = ["FoundProblems", "find_problems"]


@dataclass
class FoundProblems:
    problems: list[Problem]
    problem_of: list[str | None]
    centroids: dict[str, np.ndarray]
    unclustered: int


def find_problems(
    items: Sequence[FeedbackItem],
    X: np.ndarray,
    categories: Sequence[str],
    *,
    params: ClusterParams | None = None,
    progress: Progress | None = None,
) -> FoundProblems:
    """Cluster within each category (``other`` included), then title, quote and score each cluster."""
    progress = progress or NullProgress()
    cats = np.array(categories)
    problem_of: list[str | None] = [None] * len(items)
    problems: list[Problem] = []
    cents: dict[str, np.ndarray] = {}
    present = [c for c in CATEGORY_IDS if (cats == c).any()]
    progress.start("Clustering categories", len(present))
    for cat in present:
        idx = np.where(cats == cat)[0]
        Xc = X[idx]
        labels = cluster_embeddings(Xc, params)
        texts = [items[i].text for i in idx]
        kws = keywords_by_cluster(texts, labels)
        clusters = sorted({int(v) for v in labels.tolist() if v >= 0}, key=lambda k: (-(labels == k).sum(), k))
        for rank, k in enumerate(clusters, start=1):
            pid = f"{cat}-{rank:02d}"
            local = np.where(labels == k)[0]
            members = [items[idx[j]] for j in local]
            mtexts = [m.text for m in members]
            others = [texts[j] for j in np.where(labels != k)[0]]
            q = diverse_quotes(Xc[local], mtexts)
            c = Xc[local].mean(axis=0)
            cents[pid] = c / max(float(np.linalg.norm(c)), 1e-12)
            terms = scoring.severity_terms(cat, members)
            sev = scoring.severity(terms)
            p = Problem(
                id=pid, category=cat, title=title_for(mtexts, others, kws.get(k, [])),
                keywords=kws.get(k, []),
                member_ids=[m.id if m.id is not None else int(idx[j]) for m, j in zip(members, local)],
                quotes=[mtexts[j] for j in q],
                share_of_category=round(len(local) / len(idx), 4),
                breakdowns=breakdowns({
                    "channel": [m.channel for m in members], "device": [m.device for m in members],
                    "browser": [m.browser for m in members], "app_version": [m.app_version for m in members],
                    "segment": [m.segment for m in members],
                }),
                error_codes=error_codes(mtexts), severity=sev, severity_terms=terms,
            )
            p.priority = scoring.priority(p.size, sev)
            problems.append(p)
            for j in local:
                problem_of[int(idx[j])] = pid
        progress.advance(1)
    progress.finish()
    problems.sort(key=lambda p: (-p.priority, p.id))
    return FoundProblems(problems, problem_of, cents, sum(1 for p in problem_of if p is None))
