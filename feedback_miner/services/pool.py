"""The unclustered pool: texts that joined no problem in their own week are re-clustered over a
trailing window, so a problem that is small every week but steady across weeks still surfaces.

A pooled cluster becomes a problem of this week when it has members in this week and in at least
``min_weeks`` distinct weeks; its weekly history comes from the pooled members.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from feedback_miner.domain.ports import FeedbackStore
from feedback_miner.domain.types import FeedbackItem, effective_categories
from feedback_miner.domain.weeks import shift_week, week_of, weeks_between
from feedback_miner.stages.cluster import ClusterParams
from feedback_miner.stages.embed import embed_texts
from feedback_miner.stages.problems import FoundProblems, find_problems
from feedback_miner.stages.protocols import Embedder

__all__ = ["pool_unclustered"]


def _earlier_unclustered(store: FeedbackStore, week: str, window: int) -> tuple[list[FeedbackItem], list[str]]:
    weeks = weeks_between(shift_week(week, -window), shift_week(week, -1))
    items = store.feedback_in_weeks(weeks)
    if not items:
        return [], []
    joined = store.joined_members(weeks)
    ran = store.weeks_with_results(weeks)
    keep = [i for i in items if week_of(i.created_at) in ran and (week_of(i.created_at), int(i.id or -1)) not in joined]
    preds = store.predicted_categories([int(i.id) for i in keep if i.id is not None])
    cats = effective_categories(keep, [preds.get(int(i.id or -1), "") for i in keep])
    pairs = [(i, c) for i, c in zip(keep, cats) if c]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def pool_unclustered(
    store: FeedbackStore, embedder: Embedder, found: FoundProblems, items: Sequence[FeedbackItem], X: np.ndarray,
    cats: Sequence[str], *, week: str, window: int = 6, min_weeks: int = 2, params: ClusterParams | None = None,
) -> dict[str, list[str]]:
    """Add pooled problems to ``found`` (in place); returns each pooled problem's member weeks."""
    here = [n for n, pid in enumerate(found.problem_of) if pid is None]
    old_items, old_cats = _earlier_unclustered(store, week, window)
    if not here or not old_items:
        return {}
    pool_items = [items[n] for n in here] + old_items
    pool_cats = [cats[n] for n in here] + old_cats
    X_old = embed_texts([i.text for i in old_items], embedder, cache=store)
    X_pool = np.vstack([X[here], X_old])
    base = params or ClusterParams()
    pooled = find_problems(pool_items, X_pool, pool_cats, params=replace(base, min_cluster_size=max(3, base.min_cluster_size)),
                           embedder=embedder, taken_titles=[p.title for p in found.problems])
    this_week_ids = {i.id for i in (items[n] for n in here) if i.id is not None}
    history: dict[str, list[str]] = {}
    by_id = {int(i.id): i for i in pool_items if i.id is not None}
    for p in pooled.problems:
        member_weeks = [week_of(by_id[m].created_at) for m in p.member_ids]
        current = [m for m in p.member_ids if m in this_week_ids]
        if not current or len(set(member_weeks)) < min_weeks:
            continue
        new_id = f"pool-{p.id}"
        found.centroids[new_id] = pooled.centroids[p.id]
        p.id = new_id
        p.member_ids = current
        history[new_id] = [w for w in member_weeks if w != week]
        found.problems.append(p)
        joined = set(current)
        for n in here:
            item_id = items[n].id
            if item_id is not None and item_id in joined:
                found.problem_of[n] = new_id
    found.unclustered = sum(1 for pid in found.problem_of if pid is None)
    return history
