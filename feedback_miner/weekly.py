"""The weekly run over the store: embed what is new, classify, cluster, match to the problem
registry (stable ids), trend, score, and store the digest — all results in one transaction, so a
crash mid-run leaves the store as it was (the embedding cache aside, which is safe to keep).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
from sqlalchemy import select

from feedback_miner.adapters import tables as t
from feedback_miner.adapters.registry_store import fix_watch_in
from feedback_miner.adapters.store import Store
from feedback_miner.domain.metrics import compute_metrics, repeat_rate
from feedback_miner.domain.weeks import shift_week, week_bounds, weeks_between
from feedback_miner.errors import ConflictError, NotFoundError
from feedback_miner.pipeline import apply_trends, attach_satisfaction, classify_texts, executive_summary, metric_dicts
from feedback_miner.stages.classify import LinearSoftmaxClassifier
from feedback_miner.stages.cluster import ClusterParams
from feedback_miner.stages.digest import build_digest
from feedback_miner.stages.problems import find_problems
from feedback_miner.stages.protocols import Embedder, NullProgress, Progress
from feedback_miner.weekly_pool import pool_unclustered
from feedback_miner.weekly_registry import join_fragments, match_registry
from feedback_miner.stages.registry import ClusterSummary, KnownProblem, match_clusters, update_centroid

__all__ = ["run_week"]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def run_week(
    store: Store, embedder: Embedder, clf: LinearSoftmaxClassifier, *, week: str, classifier_version: str,
    params: ClusterParams | None = None, baseline_weeks: int = 6, match_threshold: float = 0.8,
    top_n: int = 10, progress: Progress | None = None,
) -> dict[str, Any]:
    """Run one ISO week and store its digest; returns the digest."""
    progress = progress or NullProgress()
    week_bounds(week)  # validates
    if store.running_run():
        raise ConflictError("a run is already in progress; wait for it to finish")
    items = store.feedback_in_weeks([week])
    if not items:
        raise NotFoundError(f"no feedback stored for week {week}; ingest some first")
    run_id = store.start_run(week)
    try:
        digest = _run(store, embedder, clf, items, week, classifier_version, params, baseline_weeks,
                      match_threshold, top_n, progress, run_id)
    except BaseException as exc:
        store.finish_run(run_id, "failed", error=f"{exc.__class__.__name__}: {exc}")
        raise
    store.finish_run(run_id, "done", stats=digest["counts"])
    return digest


def _run(store: Store, embedder: Embedder, clf: LinearSoftmaxClassifier, items: Sequence[Any], week: str,
         version: str, params: ClusterParams | None, baseline_weeks: int, threshold: float, top_n: int,
         progress: Progress, run_id: int) -> dict[str, Any]:
    preds, X = classify_texts([i.text for i in items], embedder, clf, cache=store, progress=progress)
    cats = [i.category or p.category for i, p in zip(items, preds)]
    found = find_problems(items, X, cats, params=params, progress=progress)
    pooled_history = pool_unclustered(store, embedder, found, items, X, cats, week=week, window=baseline_weeks,
                                      params=params)
    ids, match, info = match_registry(store, found, week, threshold)
    weeks = weeks_between(shift_week(week, -baseline_weeks), week)
    with store.tx() as c:
        hist = c.execute(select(t.problem_weeks.c.problem_id, t.problem_weeks.c.week, t.problem_weeks.c.count)
                         .where(t.problem_weeks.c.week.in_(weeks[:-1]))).all()
    members: dict[str, list[str]] = {}
    for pid, w, n in hist:  # an absorbed problem's history goes to the problem it merged into
        members.setdefault(info.redirect(pid), []).extend([w] * int(n))
    fixed: dict[str, str] = {}
    first_seen: dict[str, str] = {}
    for p in found.problems:
        old = p.id
        p.id = ids[old]
        known_row = info.rows.get(p.id)
        if known_row is not None:
            p.title = known_row["title"]  # titles stay stable; a lead's rename sticks
            first_seen[p.id] = known_row["first_week"]
            if known_row["fixed_week"]:
                fixed[p.id] = known_row["fixed_week"]
        members.setdefault(p.id, []).extend([week] * p.size)
        if old in pooled_history and known_row is None:
            # A new pooled problem brings its history, unless that history is only last week's:
            # then it is as new as a problem first clustered this week.
            if any(w < shift_week(week, -1) for w in pooled_history[old]):
                members[p.id].extend(pooled_history[old])
        centroid = found.centroids.pop(old)
        found.centroids.setdefault(p.id, centroid)  # the larger fragment's centroid
    found.problem_of = [ids.get(x) if x else None for x in found.problem_of]
    join_fragments(found, items, cats)
    apply_trends(found.problems, members, weeks, store.week_totals(), baseline_weeks=baseline_weeks, fixed=fixed,
                 first_seen=first_seen)
    start, end = week_bounds(week)
    prev = store.feedback_in_weeks([shift_week(week, -1)])
    by_id = {int(i.id): i for i in items}
    metrics = compute_metrics(items, now=min(end, _now()), previous=prev)
    pairs = [(by_id[m].customer_id or "", p.id) for p in found.problems for m in p.member_ids if by_id[m].customer_id]
    metrics = [*metrics, repeat_rate(pairs)] if pairs else list(metrics)
    attach_satisfaction(found.problems, by_id, now=min(end, _now()))
    summary = executive_summary(found.problems, metrics, by_id, now=min(end, _now()))
    digest = build_digest(period=week, problems=found.problems, categories=cats, unclustered=found.unclustered,
                          top_n=top_n, metrics=metric_dicts(metrics), summary=summary)
    digest["classifier_version"] = version
    digest["merges"] = [list(m) for m in match.merges]
    digest["splits"] = [{"problem": src, "fragments_joined": len(ks)} for src, ks in match.splits]
    _save(store, week, items, preds, found, digest, version, run_id, match, baseline_weeks)
    return digest


def _save(store: Store, week: str, items: Sequence[Any], preds: Sequence[Any], found: Any, digest: dict[str, Any],
          version: str, run_id: int, match: Any, baseline_weeks: int) -> None:
    now = _now()
    with store.tx() as c:
        store.save_predictions(c, [
            {"feedback_id": int(i.id), "classifier_version": version, "category": p.category,
             "confidence": p.confidence, "secondary_category": p.secondary_category}
            for i, p in zip(items, preds)
        ])
        c.execute(t.problem_members.delete().where(t.problem_members.c.week == week))
        c.execute(t.problem_weeks.delete().where(t.problem_weeks.c.week == week))
        for p in found.problems:
            cent = found.centroids[p.id].astype(np.float32)
            row = c.execute(select(t.problems).where(t.problems.c.id == p.id)).mappings().first()
            if row is None:
                c.execute(t.problems.insert().values(
                    id=p.id, category=p.category, title=p.title[:200], title_locked=False,
                    keywords=json.dumps(p.keywords), centroid=cent.tobytes(), first_week=week, last_week=week,
                    created_at=now))
            else:
                old = np.frombuffer(row["centroid"], np.float32)
                newc = update_centroid(old, cent, 3.0, 1.0).astype(np.float32)
                c.execute(t.problems.update().where(t.problems.c.id == p.id).values(
                    keywords=json.dumps(p.keywords), centroid=newc.tobytes(),
                    last_week=max(week, row["last_week"])))
            c.execute(t.problem_weeks.insert().values(
                problem_id=p.id, week=week, count=p.size, severity=p.severity, priority=p.priority,
                status=p.status, detail=json.dumps({"trend": p.trend_statistic, "title": p.title})))
            c.execute(t.problem_members.insert(), [{"week": week, "feedback_id": int(m), "problem_id": p.id}
                                                   for m in p.member_ids])
        for absorbed, survivor in match.merges:
            c.execute(t.problems.update().where(t.problems.c.id == absorbed).values(merged_into=survivor))
            c.execute(t.problem_events.insert().values(problem_id=absorbed, kind="merge", week=week,
                      detail=json.dumps({"into": survivor}), created_at=now))
        for src, _ in match.splits:
            c.execute(t.problem_events.insert().values(problem_id=src, kind="split", week=week,
                      detail=json.dumps({}), created_at=now))
        digest["fix_watch"] = fix_watch_in(c, week, baseline_weeks=baseline_weeks)  # sees this week's counts
        store.save_digest(c, week, digest, run_id)
