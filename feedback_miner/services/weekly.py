"""The weekly run over the store port: embed what is new, classify, cluster, match to the problem
registry (stable ids), trend, score, and store the digest — every result in one unit of work, so a
crash mid-run leaves the store as it was (the embedding cache aside, which is safe to keep).

The run holds a lease (owner ``host:pid`` and a heartbeat): a run killed without finishing is
detected by the next one, marked abandoned and taken over at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from feedback_miner.domain.metrics import compute_metrics, repeat_rate
from feedback_miner.domain.ports import Classifier, FeedbackStore, PredictionRow, ProblemUpsert, UnitOfWork
from feedback_miner.domain.types import FeedbackItem, Prediction, Problem, effective_categories
from feedback_miner.domain.weeks import shift_week, week_bounds, weeks_between
from feedback_miner.errors import NotFoundError
from feedback_miner.services.analysis import (
    apply_trends,
    attach_satisfaction,
    classify_texts,
    executive_summary,
    severe_of,
)
from feedback_miner.services.fix_watch import fix_watch
from feedback_miner.services.lease import heartbeat_while, run_owner
from feedback_miner.services.pool import pool_unclustered
from feedback_miner.services.registry import RegistryInfo, join_fragments, join_new_fragments, match_registry
from feedback_miner.stages.cluster import ClusterParams
from feedback_miner.stages.digest import Digest, build_digest
from feedback_miner.stages.problems import FoundProblems, find_problems
from feedback_miner.stages.protocols import Embedder, NullProgress, Progress
from feedback_miner.stages.registry import MatchResult, update_centroid

__all__ = ["RunOptions", "run_week"]


@dataclass(frozen=True)
class RunOptions:
    """The settings of a weekly run (built from :class:`Settings` by the composition root)."""

    params: ClusterParams | None = None
    baseline_weeks: int = 6
    match_threshold: float = 0.8
    top_n: int = 10
    stale_after_s: float = 120.0
    heartbeat_s: float = 10.0
    targets: Mapping[str, float] = field(default_factory=dict)  # over domain.metrics.DEFAULT_TARGETS


def _now() -> datetime:
    return datetime.now(UTC)


def run_week(
    store: FeedbackStore, embedder: Embedder, clf: Classifier, *, week: str, classifier_version: str,
    options: RunOptions | None = None, progress: Progress | None = None, owner: str | None = None,
    claimed_run: int | None = None,
) -> Digest:
    """Run one ISO week and store its digest; returns the digest. ``claimed_run``: the id of a run
    lease the caller already holds (``store.claim_run``), e.g. the API claiming before it answers 202."""
    opts = options or RunOptions()
    progress = progress or NullProgress()
    try:
        week_bounds(week)  # validates (InputError)
        items = store.feedback_in_weeks([week])
        if not items:
            raise NotFoundError(f"no feedback stored for week {week}; ingest some first (feedback-miner ingest FILE)")
    except BaseException as exc:
        if claimed_run is not None:
            store.finish_run(claimed_run, "failed", error=f"{exc.__class__.__name__}: {exc}")
        raise
    run_id = claimed_run if claimed_run is not None else store.claim_run(
        week, owner=owner or run_owner(), stale_after_s=opts.stale_after_s)
    try:
        with heartbeat_while(store, run_id, every_s=opts.heartbeat_s):
            digest = _run(store, embedder, clf, items, week, classifier_version, opts, progress, run_id)
    except BaseException as exc:
        store.finish_run(run_id, "failed", error=f"{exc.__class__.__name__}: {exc}")
        raise
    store.finish_run(run_id, "done", stats=digest.counts)
    return digest


def _history(store: FeedbackStore, info: RegistryInfo, weeks: Sequence[str]) -> dict[str, list[str]]:
    """Member weeks of each known problem over the baseline; an absorbed problem's history goes to
    the problem it merged into."""
    members: dict[str, list[str]] = {}
    for pid, w, n in store.problem_counts(weeks[:-1]):
        members.setdefault(info.redirect(pid), []).extend([w] * n)
    return members


def _run(store: FeedbackStore, embedder: Embedder, clf: Classifier, items: Sequence[FeedbackItem], week: str,
         version: str, opts: RunOptions, progress: Progress, run_id: int) -> Digest:
    preds, X = classify_texts([i.text for i in items], embedder, clf, cache=store, progress=progress)
    cats = effective_categories(items, [p.category for p in preds])
    # The near-duplicate merge waits for the registry match (join_new_fragments), so clusters that
    # match different known problems stay apart and fragments of a new problem join before trends.
    found = find_problems(items, X, cats, params=opts.params, progress=progress, embedder=embedder,
                          merge_threshold=1.0, cross_category_threshold=1.0)
    pooled_history = pool_unclustered(store, embedder, found, items, X, cats, week=week, window=opts.baseline_weeks,
                                      params=opts.params)
    ids, match, info = match_registry(store, found, week, opts.match_threshold)
    ids = join_new_fragments(found, X, cats, ids, set(info.rows), fragment_threshold=opts.match_threshold)
    parts: dict[str, int] = {}
    for v in ids.values():
        parts[v] = parts.get(v, 0) + 1
    joined_ids = {v for v, c in parts.items() if c > 1}
    weeks = weeks_between(shift_week(week, -opts.baseline_weeks), week)
    members = _history(store, info, weeks)
    fixed: dict[str, str] = {}
    first_seen: dict[str, str] = {}
    for p in found.problems:
        old = p.id
        p.id = ids[old]
        known = info.rows.get(p.id)
        if known is not None:
            p.title = known.title  # titles stay stable; a lead's rename sticks
            first_seen[p.id] = known.first_week
            if known.fixed_week:
                fixed[p.id] = known.fixed_week
        members.setdefault(p.id, []).extend([week] * p.size)
        # A new pooled problem brings its history, unless that history is only last week's:
        # then it is as new as a problem first clustered this week.
        if old in pooled_history and known is None and any(w < shift_week(week, -1) for w in pooled_history[old]):
            members[p.id].extend(pooled_history[old])
        centroid = found.centroids.pop(old)
        found.centroids.setdefault(p.id, centroid)  # the larger fragment's centroid
    found.problem_of = [ids.get(x) if x else None for x in found.problem_of]
    for pid in joined_ids:  # a joined problem's centroid is its members' mean
        rows = [n for n, x in enumerate(found.problem_of) if x == pid]
        if rows:
            v = X[rows].mean(axis=0)
            found.centroids[pid] = v / max(float(np.linalg.norm(v)), 1e-12)
    join_fragments(found, items, cats)
    _unique_titles(found.problems, known=set(info.rows))
    apply_trends(found.problems, members, weeks, store.week_totals(), baseline_weeks=opts.baseline_weeks,
                 fixed=fixed, first_seen=first_seen)
    now = min(week_bounds(week)[1], _now())
    by_id = {int(i.id): i for i in items if i.id is not None}
    metrics = list(compute_metrics(items, now=now, previous=store.feedback_in_weeks([shift_week(week, -1)]),
                                   targets=opts.targets))
    pairs = [(by_id[m].customer_id or "", p.id) for p in found.problems for m in p.member_ids if by_id[m].customer_id]
    if pairs:
        metrics.append(repeat_rate(pairs))
    attach_satisfaction(found.problems, by_id, now=now)
    with store.unit_of_work() as uow:
        _save(uow, week, items, preds, found, info, version, match)
        digest = build_digest(
            period=week, problems=found.problems, categories=cats, unclustered=found.unclustered, top_n=opts.top_n,
            metrics=metrics, summary=executive_summary(found.problems, metrics, by_id, now=now),
            severe_unclustered=severe_of(items, cats, found),
            classifier_version=version, merges=match.merges, splits=[(s, len(ks)) for s, ks in match.splits],
            fix_watch=fix_watch(uow, week, baseline_weeks=opts.baseline_weeks))  # sees this week's counts
        uow.save_digest(week, digest.to_dict(), run_id)
    return digest


def _unique_titles(problems: Sequence[Problem], *, known: set[str]) -> None:
    """A known problem keeps its title; a new one whose title it already uses gets its most telling
    keyword added (or its id), so every title of a digest names one problem."""
    taken: dict[str, str] = {}
    for p in sorted(problems, key=lambda p: (p.id not in known, -p.size, p.id)):
        key = p.title.casefold()
        if key in taken and taken[key] != p.id and p.id not in known:
            extra = next((k for k in p.keywords if k.casefold() not in key), None)
            p.title = f"{p.title} ({extra})" if extra and f"{p.title} ({extra})".casefold() not in taken else \
                f"{p.title} ({p.id})"
            key = p.title.casefold()
        taken.setdefault(key, p.id)


def _save(uow: UnitOfWork, week: str, items: Sequence[FeedbackItem], preds: Sequence[Prediction],
          found: FoundProblems, info: RegistryInfo, version: str, match: MatchResult) -> None:
    uow.save_predictions([PredictionRow(int(i.id), version, p.category, p.confidence, p.secondary_category)
                          for i, p in zip(items, preds) if i.id is not None])
    upserts = []
    for p in found.problems:
        known = info.rows.get(p.id)
        cent = found.centroids[p.id]
        if known is not None:
            cent = update_centroid(known.centroid, cent, 3.0, 1.0)
        detail: Mapping[str, Any] = {
            "trend": p.trend_statistic, "title": p.title, "error_codes": list(p.error_codes),
            "severity_terms": [{"name": t.name, "value": round(t.value, 4), "weight": t.weight,
                                "contribution": round(t.contribution, 4), "explanation": t.explanation}
                               for t in p.severity_terms],
            "satisfaction": dict(p.satisfaction)}
        upserts.append(ProblemUpsert(
            id=p.id, category=p.category, title=p.title, keywords=tuple(p.keywords), centroid=cent, count=p.size,
            severity=p.severity, priority=p.priority, status=p.status, detail=detail,
            member_ids=tuple(int(m) for m in p.member_ids), is_new=known is None))
    uow.replace_week_problems(week, upserts)
    for absorbed, survivor in match.merges:
        uow.record_merge(absorbed, survivor, week)
    for src, _ in match.splits:
        uow.record_split(src, week)
