"""Analysis use cases shared by the weekly run, the periodic reports and ``analyze``: classify
texts, analyse a set of items without a store, trends, satisfaction per problem, the summary.

Wires the pure stages together; takes its collaborators (embedder, classifier, cache, progress)
as arguments and holds no globals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from feedback_miner.domain.format import metric_value, pct, plural
from feedback_miner.domain.metrics import MetricValue, compare_groups
from feedback_miner.domain.ports import Classifier
from feedback_miner.domain.scoring import growth_factor, priority
from feedback_miner.domain.trends import assess_trend, weekly_counts
from feedback_miner.domain.types import FeedbackItem, Prediction, Problem
from feedback_miner.domain.weeks import week_of, weeks_between
from feedback_miner.stages.actions import recommended_action, run_breakdowns
from feedback_miner.stages.cluster import ClusterParams
from feedback_miner.stages.digest import Digest, Summary, build_digest
from feedback_miner.stages.embed import embed_texts
from feedback_miner.stages.problems import FoundProblems, find_problems
from feedback_miner.stages.protocols import Embedder, EmbeddingCache, NullProgress, Progress
from feedback_miner.stages.severe import severe_unclustered

__all__ = [
    "Analysis",
    "analyze_items",
    "apply_trends",
    "attach_satisfaction",
    "classify_texts",
    "executive_summary",
]


@dataclass
class Analysis:
    items: list[FeedbackItem]
    predictions: list[Prediction]
    categories: list[str]
    found: FoundProblems
    digest: Digest


def classify_texts(
    texts: Sequence[str], embedder: Embedder, clf: Classifier, *,
    cache: EmbeddingCache | None = None, progress: Progress | None = None, chunk_size: int = 1024,
) -> tuple[list[Prediction], np.ndarray]:
    X = embed_texts(texts, embedder, cache=cache, progress=progress, chunk_size=chunk_size)
    preds: list[Prediction] = clf.predict(X) if len(texts) else []
    return preds, X


def apply_trends(problems: Sequence[Problem], weeks_of_members: Mapping[str, Sequence[str]],
                 weeks: Sequence[str], totals: Mapping[str, int], *, baseline_weeks: int = 6,
                 fixed: Mapping[str, str] | None = None, first_seen: Mapping[str, str] | None = None) -> None:
    """Fill weekly counts, status, statistic and the emerging flag of each problem for the last
    week; re-rank by priority with growth."""
    if not weeks:
        return
    for p in problems:
        p.weekly_counts = weekly_counts(weeks_of_members.get(p.id, []), weeks)
        if len(weeks) < 2:
            continue
        tr = assess_trend(p.weekly_counts, totals, weeks[-1], baseline_weeks=baseline_weeks,
                          fixed_at_week=(fixed or {}).get(p.id), first_seen_week=(first_seen or {}).get(p.id))
        p.status, p.trend_statistic, p.emerging = tr.status, tr.statement, tr.emerging
        p.priority = priority(p.weekly_counts[weeks[-1]] or p.size, p.severity,
                              growth_factor(tr.observed, tr.expected))


def analyze_items(
    items: Sequence[FeedbackItem], embedder: Embedder, clf: Classifier, *,
    params: ClusterParams | None = None, use_given_categories: bool = False, with_time: bool = False,
    top_n: int = 10, progress: Progress | None = None, cache: EmbeddingCache | None = None,
    chunk_size: int = 1024, period: str | None = None, metrics: Sequence[MetricValue] = (),
    now: datetime | None = None,
) -> Analysis:
    """The whole pipeline over one set of items, without a store (``feedback-miner analyze``)."""
    progress = progress or NullProgress()
    preds, X = classify_texts([i.text for i in items], embedder, clf, cache=cache, progress=progress,
                              chunk_size=chunk_size)
    cats = [i.category if (use_given_categories and i.category) else p.category for i, p in zip(items, preds)]
    found = find_problems(items, X, cats, params=params, progress=progress, embedder=embedder)
    period = period or "all"
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
        if period == "all":
            period = weeks[0] if len(weeks) == 1 else f"{weeks[0]}..{weeks[-1]}"
    by_id = {it.id if it.id is not None else n: it for n, it in enumerate(items)}
    attach_satisfaction(found.problems, by_id, now=now or datetime.now(UTC))
    return Analysis(list(items), preds, cats, found,
                    digest_of(found, cats, by_id, period=period, top_n=top_n, metrics=metrics, now=now, items=items))


def severe_of(items: Sequence[FeedbackItem], cats: Sequence[str], found: FoundProblems) -> list[dict[str, Any]]:
    """Severe texts that joined no problem (money lost, payment blocked, locked out, safety), for the
    digest's own heading: they are listed every week, however small the week."""
    return [{"category": s.category, "reason": s.reason, "quote": s.quote, "feedback_id": s.item_id}
            for s in severe_unclustered(items, cats, found.problem_of, limit=10)]


def digest_of(found: FoundProblems, cats: Sequence[str], items_by_id: Mapping[int, FeedbackItem], *, period: str,
              top_n: int, metrics: Sequence[MetricValue] = (), now: datetime | None = None,
              items: Sequence[FeedbackItem] = ()) -> Digest:
    """The digest of an analysis without a store (``analyze``, monthly and quarterly reports)."""
    now = now or datetime.now(UTC)
    return build_digest(period=period, problems=found.problems, categories=cats, unclustered=found.unclustered,
                        top_n=top_n, metrics=metrics, severe_unclustered=severe_of(items, cats, found),
                        summary=executive_summary(found.problems, metrics, items_by_id, now=now))


def attach_satisfaction(problems: Sequence[Problem], items_by_id: Mapping[int, FeedbackItem], *, now: datetime,
                        min_n: int = 5) -> None:
    """Per problem: CSAT and NPS of the people who reported it against everyone else, and the
    share of its tickets that missed the 48-hour target, with a sentence for the digest."""
    for p in problems:
        member_set = set(p.member_ids)
        members = [items_by_id[i] for i in p.member_ids if i in items_by_id]
        others = [it for k, it in items_by_id.items() if k not in member_set]
        if not members:
            continue
        g = compare_groups(members, others, now=now)
        bits = []
        if g.csat_difference_points is not None and g.csat_members_n >= min_n and g.csat_members is not None:
            word = "lower" if g.csat_difference_points < 0 else "higher"
            bits.append(f"customers hitting this problem rate support {abs(g.csat_difference_points):.0f} points {word} "
                        f"(CSAT {g.csat_members:.0%} of {g.csat_members_n} vs {pct(g.csat_others)})")
        if g.nps_difference_points is not None and g.nps_members_n >= min_n and g.nps_members is not None:
            bits.append(f"NPS {g.nps_members:+.0f} vs {g.nps_others or 0:+.0f}")
        if g.missed_48h_share is not None and g.tickets_n >= min_n:
            bits.append(f"{g.missed_48h_share:.0%} of its {g.tickets_n} tickets missed the 48-hour target")
        p.satisfaction = {
            "csat_members": g.csat_members, "csat_others": g.csat_others, "csat_difference_points": g.csat_difference_points,
            "csat_members_n": g.csat_members_n, "nps_members": g.nps_members, "nps_others": g.nps_others,
            "nps_difference_points": g.nps_difference_points, "missed_48h_share": g.missed_48h_share,
            "tickets_n": g.tickets_n, "sentence": "; ".join(bits) if bits else None,
        }


def _num(d: Mapping[str, object], key: str) -> float | None:
    v = d.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def executive_summary(
    problems: Sequence[Problem], metrics: Sequence[MetricValue], items_by_id: Mapping[int, FeedbackItem],
    *, now: datetime,
) -> Summary:
    """Headline metrics against targets, the top three problems, what changed, and actions derived
    from the data (e.g. "PayPal checkout fails: 3.1× expected, CSAT 12% among affected — fix first")."""
    headline: list[str] = []
    for m in metrics:
        if m.target is None or m.value is None:
            continue
        if not m.enough:
            headline.append(f"{m.label}: {m.note}")
            continue
        ok = "meets" if m.meets_target else "misses"
        chg = "" if m.change is None else f" ({metric_value(m.change, m.unit, change=True)} vs previous period)"
        headline.append(f"{m.label} {metric_value(m.value, m.unit)} {ok} its {metric_value(m.target, m.unit)} "
                        f"target{chg}")
    issues = sorted((p for p in problems if p.category != "other"), key=lambda p: (-p.priority, p.id))
    top_lines: list[str] = []
    actions: list[str] = []
    baseline = run_breakdowns(list(items_by_id.values()))
    for p in issues[:3]:
        bits = [plural(p.size, "report")]
        if p.status in ("new", "growing", "resurfaced") and p.trend_statistic:
            bits.append(f"{p.status}: {p.trend_statistic}")
        elif p.status:
            bits.append(p.status)
        sat = p.satisfaction or {}
        csat, csat_n = _num(sat, "csat_members"), _num(sat, "csat_members_n") or 0
        if csat is not None and csat_n >= 5:
            bits.append(f"CSAT {pct(csat)} among affected vs {pct(_num(sat, 'csat_others'))}")
        missed, tickets = _num(sat, "missed_48h_share"), _num(sat, "tickets_n") or 0
        if missed is not None and tickets >= 5:
            bits.append(f"{pct(missed)} of tickets missed 48 h")
        top_lines.append(f"{p.title} ({p.category}, {p.id}): " + "; ".join(bits))
        actions.append(recommended_action(p, baseline).text)
    changed: list[str] = []
    for status, word in (("new", "new"), ("growing", "growing"), ("resurfaced", "resurfaced after a fix"),
                         ("fading", "fading")):
        names = [p.title for p in issues if p.status == status]
        if names:
            changed.append(f"{len(names)} {word}: " + ", ".join(names[:4]) + ("…" if len(names) > 4 else ""))
    return Summary(headline=tuple(headline + ([f"Top problem: {top_lines[0]}"] if top_lines else [])),
                   top_problems=tuple(top_lines), changes=tuple(changed), actions=tuple(actions),
                   analysed=len(items_by_id))
