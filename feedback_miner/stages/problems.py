"""Find problems: cluster each category, merge near duplicates, then title, quote and score.

Pure: takes items, their unit embeddings and their (given or predicted) categories; returns
:class:`Problem` objects in priority order and each item's problem id (``None`` = unclustered).

Steps: UMAP + HDBSCAN within each category (``stages.cluster``); near-duplicate clusters joined,
across categories too (``stages.merge``), the problem's category being its members' majority; a
problem made mostly of thanks or praise goes to ``other`` (``stages.nonissue``); keywords by
c-TF-IDF over the run; titles from the members' own phrases, unique within the run
(``stages.titles``); severity and priority (``domain.scoring``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from feedback_miner.domain import scoring
from feedback_miner.domain.types import CATEGORY_IDS, FeedbackItem, Problem
from feedback_miner.stages.cluster import ClusterParams, cluster_groups
from feedback_miner.stages.describe import breakdowns, diverse_quotes, error_codes, keywords_by_cluster
from feedback_miner.stages.merge import CROSS_CATEGORY_THRESHOLD, MERGE_THRESHOLD, Cluster, merge_clusters
from feedback_miner.stages.nonissue import PRAISE_MAJORITY, praise_share
from feedback_miner.stages.protocols import Embedder, NullProgress, Progress
from feedback_miner.stages.span_counts import outside_counts_of_own_spans
from feedback_miner.stages.titles import assign_titles, candidates, fallback_title, rerank

__all__ = ["FoundProblems", "find_problems"]


@dataclass
class FoundProblems:
    problems: list[Problem]
    problem_of: list[str | None]
    centroids: dict[str, np.ndarray]
    unclustered: int


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _clusters(X: np.ndarray, cats: np.ndarray, params: ClusterParams | None, progress: Progress) -> list[Cluster]:
    present = [c for c in CATEGORY_IDS if (cats == c).any()] + sorted(set(cats.tolist()) - set(CATEGORY_IDS))
    progress.start("Clustering categories", len(present))
    idxs = [np.where(cats == cat)[0] for cat in present]
    labels_of = cluster_groups([X[idx] for idx in idxs], params, on_done=lambda _i: progress.advance(1))
    out: list[Cluster] = []
    for cat, idx, labels in zip(present, idxs, labels_of):
        for k in sorted({int(v) for v in labels.tolist() if v >= 0}):
            members = [int(i) for i in idx[labels == k]]
            out.append(Cluster(members, [cat] * len(members)))
    progress.finish()
    return out


def find_problems(
    items: Sequence[FeedbackItem],
    X: np.ndarray,
    categories: Sequence[str],
    *,
    params: ClusterParams | None = None,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
    merge_threshold: float = MERGE_THRESHOLD,
    cross_category_threshold: float = CROSS_CATEGORY_THRESHOLD,
    taken_titles: Collection[str] = (),
) -> FoundProblems:
    """Problems of one run (see the module docstring).

    ``embedder`` (optional) embeds title candidates to rank them by closeness to the problem's
    centroid; without it, candidates are ranked by the members that use them. ``taken_titles``
    are titles the run must not reuse (e.g. known problems' titles held by the registry).
    """
    progress = progress or NullProgress()
    cats = np.array(categories)
    clusters = merge_clusters(X, _clusters(X, cats, params, progress), threshold=merge_threshold,
                              cross_category_threshold=cross_category_threshold)
    texts = [i.text for i in items]
    labels = np.full(len(items), -1, dtype=np.int64)
    for k, c in enumerate(clusters):
        labels[c.members] = k
    kws = keywords_by_cluster(texts, labels)
    cat_sizes = Counter(cats.tolist())
    members_text = [[texts[i] for i in c.members] for c in clusters]
    outside = outside_counts_of_own_spans(members_text)  # = titles.outside_counts on the keys read, linear
    n_clustered = sum(len(c.members) for c in clusters)

    drafts: list[tuple[Problem, list[Any]]] = []  # problem, [candidates, fallback title, main code]
    cents: dict[str, np.ndarray] = {}
    rank: Counter[str] = Counter()
    for k, c in enumerate(clusters):
        mtexts = members_text[k]
        cat = "other" if praise_share(mtexts) >= PRAISE_MAJORITY else c.category
        rank[cat] += 1
        pid = f"{cat}-{rank[cat]:02d}"
        members = [items[i] for i in c.members]
        Xm = X[c.members]
        centroid = _unit(Xm.mean(axis=0))
        cents[pid] = centroid
        terms = scoring.severity_terms(cat, members)
        sev = scoring.severity(terms)
        votes = Counter(c.categories)
        p = Problem(
            id=pid, category=cat, title="", keywords=kws.get(k, []),
            member_ids=[m.id if m.id is not None else int(i) for m, i in zip(members, c.members)],
            quotes=[mtexts[j] for j in diverse_quotes(Xm, mtexts)],
            share_of_category=round(len(c.members) / max(cat_sizes.get(cat, 0), len(c.members)), 4),
            breakdowns=breakdowns({
                "channel": [m.channel for m in members], "device": [m.device for m in members],
                "browser": [m.browser for m in members], "app_version": [m.app_version for m in members],
                "segment": [m.segment for m in members],
            }),
            error_codes=error_codes(mtexts), severity=sev, severity_terms=terms,
            member_categories=dict(sorted(votes.items())) if len(votes) > 1 or cat not in votes else {},
        )
        p.priority = scoring.priority(p.size, sev)
        cands = candidates(mtexts, Xm, centroid, outside[k], n_clustered - len(mtexts))
        central = int(np.argmax(Xm @ centroid))
        drafts.append((p, [cands, fallback_title(mtexts, central, p.keywords), _main_code(p.error_codes, p.size)]))
    if embedder is not None:
        ranked = rerank([d[1][0] for d in drafts], [cents[d[0].id] for d in drafts], embedder.embed)
        for d, r in zip(drafts, ranked):
            d[1][0] = r
    order = sorted(range(len(drafts)), key=lambda j: (-drafts[j][0].priority, drafts[j][0].id))
    titles = assign_titles([drafts[j][1][0] for j in order], [drafts[j][1][1] for j in order],
                           [drafts[j][1][2] for j in order], taken=set(taken_titles))
    for j, title in zip(order, titles):
        drafts[j][0].title = title
    problems = [drafts[j][0] for j in order]
    problem_of: list[str | None] = [None] * len(items)
    for k, c in enumerate(clusters):
        for i in c.members:
            problem_of[i] = drafts[k][0].id
    return FoundProblems(problems, problem_of, cents, sum(1 for p in problem_of if p is None))


def _main_code(codes: Sequence[str], size: int) -> str | None:
    """The error code quoted by at least a third of the members ("PP-1002 (12)" -> "PP-1002")."""
    if not codes:
        return None
    code, _, count = codes[0].rpartition(" (")
    return code if int(count.rstrip(")")) * 3 >= size else None
