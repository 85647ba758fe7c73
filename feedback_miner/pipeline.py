"""Service layer: classify texts, analyse a set of items without a store, summarise a digest.

Wires the pure stages together; takes its collaborators (embedder, classifier, cache, progress)
as arguments and holds no globals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from feedback_miner.domain.metrics import MetricValue, compare_groups
from feedback_miner.domain.scoring import growth_factor, priority
from feedback_miner.domain.trends import assess_trend, weekly_counts
from feedback_miner.domain.types import FeedbackItem, Prediction, Problem
from feedback_miner.domain.weeks import week_of, weeks_between
from feedback_miner.stages.classify import LinearSoftmaxClassifier
from feedback_miner.stages.cluster import ClusterParams
from feedback_miner.stages.digest import build_digest
from feedback_miner.stages.embed import embed_texts
from feedback_miner.stages.problems import FoundProblems, find_problems
from feedback_miner.stages.protocols import Embedder, EmbeddingCache, NullProgress, Progress

__all__ = ["Analysis", "classify_texts", "effective_categories", "analyze_items", "apply_trends",
           "metric_dicts", "executive_summary"]


@dataclass
class Analysis:
    items: list[FeedbackItem]
    predictions: list[Prediction]
    categories: list[str]
    found: FoundProblems
    digest: dict[str, Any]


def classify_texts(
    texts: Sequence[str], embedder: Embedder, clf: LinearSoftmaxClassifier, *,
    cache: EmbeddingCache | None = None, progress: Progress | None = None, batch_size: int = 64,
) -> tuple[list[Prediction], np.ndarray]:
    X = embed_texts(texts, embedder, cache=cache, progress=progress, batch_size=batch_size)
    return (clf.predict(X) if len(texts) else []), X


def effective_categories(items: Sequence[FeedbackItem], preds: Sequence[Prediction]) -> list[str]:
    """A confirmed or given category wins over the prediction."""
    return [i.category or p.category for i, p in zip(items, preds)]


def apply_trends(problems: Sequence[Problem], weeks_of_members: Mapping[str, Sequence[str]],
                 weeks: Sequence[str], totals: Mapping[str, int], *, baseline_weeks: int = 6,
                 fixed: Mapping[str, str] | None = None) -> None:
    """Fill weekly counts, status and statistic of each problem for the last week; re-rank."""
    if not weeks:
        return
    for p in problems:
        p.weekly_counts = weekly_counts(weeks_of_members.get(p.id, []), weeks)
        if len(weeks) < 2:
            continue
        tr = assess_trend(p.weekly_counts, totals, weeks[-1], baseline_weeks=baseline_weeks,
                          fixed_at_week=(fixed or {}).get(p.id))
        p.status, p.trend_statistic = tr.status, tr.statement
        p.priority = priority(p.weekly_counts[weeks[-1]] or p.size, p.severity,
                              growth_factor(tr.observed, tr.expected))


def analyze_items(
    items: Sequence[FeedbackItem], embedder: Embedder, clf: LinearSoftmaxClassifier, *,
    params: ClusterParams | None = None, use_given_categories: bool = False, with_time: bool = False,
    top_n: int = 10, progress: Progress | None = None, cache: EmbeddingCache | None = None,
    batch_size: int = 64,
) -> Analysis:
    """The whole pipeline over one set of items, without a store (``feedback-miner analyze``)."""
    progress = progress or NullProgress()
    preds, X = classify_texts([i.text for i in items], embedder, clf, cache=cache, progress=progress,
                              batch_size=batch_size)
    cats = [i.category if (use_given_categories and i.category) else p.category for i, p in zip(items, preds)]
    found = find_problems(items, X, cats, params=params, progress=progress)
    period = "all"
    if with_time and items:
        item_weeks = [week_of(i.created_at) for i in items]
        weeks = weeks_between(min(item_weeks), max(item_weeks))
        members: dict[str, list[str]] = {}
        for w, pid in zip(item_weeks, found.problem_of):
            if pid:
                members.setdefault(pid, []).append(w)
        totals: dict[str, int] = {}
        for w in item_weeks:
            totals[w] = totals.get(w, 0) + 1
        apply_trends(found.problems, members, weeks, totals)
        period = weeks[0] if len(weeks) == 1 else f"{weeks[0]}..{weeks[-1]}"
    by_id = {it.id if it.id is not None else n: it for n, it in enumerate(items)}
    summary = executive_summary(found.problems, [], by_id, now=datetime.now(timezone.utc))
    digest = build_digest(period=period, problems=found.problems, categories=cats,
                          unclustered=found.unclustered, top_n=top_n, summary=summary)
    return Analysis(list(items), preds, cats, found, digest)


def metric_dicts(metrics: Sequence[MetricValue]) -> list[dict[str, Any]]:
    return [
        {"key": m.key, "label": m.label, "value": m.value, "unit": m.unit, "target": m.target, "n": m.n,
         "previous": m.previous, "change": m.change, "enough": m.enough, "note": m.note,
         "meets_target": m.meets_target, "parts": dict(m.parts)}
        for m in metrics
    ]


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0%}"


def executive_summary(
    problems: Sequence[Problem], metrics: Sequence[MetricValue], items_by_id: Mapping[int, FeedbackItem],
    *, now: datetime,
) -> dict[str, Any]:
    """Headline metrics against targets, the top three problems, and actions derived from the data."""
    headline: list[str] = []
    for m in metrics:
        if m.target is None or m.value is None:
            continue
        if not m.enough:
            headline.append(f"{m.label}: {m.note}")
            continue
        ok = "meets" if m.meets_target else "misses"
        chg = "" if m.change is None else f" ({m.change * 100:+.1f} pp vs previous period)"
        headline.append(f"{m.label} {_pct(m.value)} {ok} its {_pct(m.target)} target{chg}")
    issues = [p for p in problems if p.category != "other"]
    top = sorted(issues, key=lambda p: (-p.priority, p.id))[:3]
    all_items = list(items_by_id.values())
    actions: list[str] = []
    top_lines: list[str] = []
    for p in top:
        members = [items_by_id[i] for i in p.member_ids if i in items_by_id]
        member_set = set(p.member_ids)
        others = [it for k, it in items_by_id.items() if k not in member_set]
        cmp = compare_groups(members, others, now=now) if members else None
        bits = [f"{p.size} reports"]
        if p.status and p.trend_statistic:
            bits.append(f"{p.status}: {p.trend_statistic}")
        if cmp is not None and cmp.csat_members is not None and cmp.csat_members_n >= 5:
            bits.append(f"CSAT {cmp.csat_members:.0%} among affected vs {_pct(cmp.csat_others)} for others")
        if cmp is not None and cmp.missed_48h_share is not None and cmp.tickets_n >= 5:
            bits.append(f"{cmp.missed_48h_share:.0%} of its tickets missed 48 h")
        top_lines.append(f"{p.title} ({p.category}) — " + "; ".join(bits))
        verb = "fix first" if p is top[0] else "schedule a fix"
        if p.status in ("new", "growing", "resurfaced"):
            verb = "investigate now (" + p.status + ")"
        actions.append(f"{p.title}: {'; '.join(bits[:3])} — {verb}")
    return {"headline": headline + [f"Top problem: {line}" for line in top_lines[:1]],
            "top_problems": top_lines, "actions": actions, "analysed": len(all_items)}
