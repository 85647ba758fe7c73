"""Digest: the prioritised top-issues report of one period, as one frozen, typed value.

:func:`build_digest` fills it completely (classifier version, merges, splits and fix watch
included); :meth:`Digest.to_dict` / :meth:`Digest.from_dict` are the one serialisation, used for
the store, the JSON output and the API's response model.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from feedback_miner.domain.metrics import MetricValue
from feedback_miner.domain.trends import sparkline
from feedback_miner.domain.types import CATEGORY_IDS, Problem

__all__ = ["Digest", "Summary", "build_digest", "problem_dict"]


@dataclass(frozen=True)
class Summary:
    """The executive summary: headline metrics vs targets, top three, changes, actions."""

    headline: tuple[str, ...] = ()
    top_problems: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    analysed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"headline": list(self.headline), "top_problems": list(self.top_problems),
                "changes": list(self.changes), "actions": list(self.actions), "analysed": self.analysed}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Summary:
        return cls(tuple(d.get("headline", ())), tuple(d.get("top_problems", ())), tuple(d.get("changes", ())),
                   tuple(d.get("actions", ())), int(d.get("analysed", 0)))


def _metric_dict(m: MetricValue) -> dict[str, Any]:
    d = dataclasses.asdict(m)
    d["parts"] = dict(m.parts)
    return d


def _metric_from(d: Mapping[str, Any]) -> MetricValue:
    names = {f.name for f in dataclasses.fields(MetricValue)}
    return MetricValue(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class Digest:
    """One period's digest. Problem entries are the serialised form of :func:`problem_dict`."""

    period: str
    generated_at: str
    counts: Mapping[str, Any]
    summary: Summary = field(default_factory=Summary)
    metrics: tuple[MetricValue, ...] = ()
    new_and_growing: tuple[Mapping[str, Any], ...] = ()
    top_problems: tuple[Mapping[str, Any], ...] = ()
    other_themes: tuple[Mapping[str, Any], ...] = ()
    severe_unclustered: tuple[Mapping[str, Any], ...] = ()
    classifier_version: str | None = None
    merges: tuple[tuple[str, str], ...] = ()
    splits: tuple[Mapping[str, Any], ...] = ()
    fix_watch: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period, "generated_at": self.generated_at, "counts": dict(self.counts),
            "summary": self.summary.to_dict(), "metrics": [_metric_dict(m) for m in self.metrics],
            "new_and_growing": [dict(p) for p in self.new_and_growing],
            "top_problems": [dict(p) for p in self.top_problems],
            "other_themes": [dict(p) for p in self.other_themes],
            "severe_unclustered": [dict(p) for p in self.severe_unclustered],
            "classifier_version": self.classifier_version, "merges": [list(m) for m in self.merges],
            "splits": [dict(s) for s in self.splits], "fix_watch": [dict(f) for f in self.fix_watch],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Digest:
        return cls(
            period=d["period"], generated_at=d["generated_at"], counts=dict(d["counts"]),
            summary=Summary.from_dict(d.get("summary") or {}),
            metrics=tuple(_metric_from(m) for m in d.get("metrics") or ()),
            new_and_growing=tuple(d.get("new_and_growing") or ()), top_problems=tuple(d.get("top_problems") or ()),
            other_themes=tuple(d.get("other_themes") or ()), severe_unclustered=tuple(d.get("severe_unclustered") or ()),
            classifier_version=d.get("classifier_version"),
            merges=tuple((str(a), str(b)) for a, b in d.get("merges") or ()),
            splits=tuple(d.get("splits") or ()), fix_watch=tuple(d.get("fix_watch") or ()))


def problem_dict(p: Problem, rank: int | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": p.id, "category": p.category, "title": p.title, "keywords": p.keywords, "size": p.size,
        "share_of_category": p.share_of_category, "quotes": p.quotes, "breakdowns": p.breakdowns,
        "error_codes": p.error_codes, "severity": p.severity,
        "severity_terms": [
            {"name": t.name, "value": round(t.value, 4), "weight": t.weight,
             "contribution": round(t.contribution, 4), "explanation": t.explanation}
            for t in p.severity_terms
        ],
        "priority": p.priority,
    }
    if p.satisfaction:
        d["satisfaction"] = dict(p.satisfaction)
    if p.member_categories:  # members classified into other categories than the problem's majority
        d["member_categories"] = dict(p.member_categories)
    if rank is not None:
        d = {"rank": rank, **d}
    if p.weekly_counts:
        d["weekly_counts"] = dict(p.weekly_counts)
        d["sparkline"] = sparkline(list(p.weekly_counts.values()))
    if p.status:
        d["status"] = p.status
        d["trend"] = p.trend_statistic
    return d


def build_digest(
    *,
    period: str,
    problems: Sequence[Problem],
    categories: Sequence[str],
    unclustered: int,
    top_n: int = 10,
    metrics: Sequence[MetricValue] = (),
    summary: Summary | None = None,
    severe_unclustered: Sequence[Mapping[str, Any]] = (),
    classifier_version: str | None = None,
    merges: Sequence[tuple[str, str]] = (),
    splits: Sequence[tuple[str, int]] = (),
    fix_watch: Sequence[Mapping[str, Any]] = (),
    generated_at: datetime | None = None,
) -> Digest:
    """The digest of one period. ``categories`` holds one effective category per analysed text."""
    cnt = Counter(categories)
    ranked = sorted(problems, key=lambda p: (-p.priority, p.id))
    issues = [p for p in ranked if p.category != "other"]
    emerging = [p for p in ranked if p.emerging and p.category != "other"]
    return Digest(
        period=period,
        generated_at=(generated_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        counts={
            "analysed": len(categories), "other": cnt.get("other", 0), "unclustered": unclustered,
            "problems": len(problems), "by_category": {c: cnt.get(c, 0) for c in CATEGORY_IDS},
        },
        summary=summary or Summary(),
        metrics=tuple(metrics),
        new_and_growing=tuple(problem_dict(p) for p in emerging),
        top_problems=tuple(problem_dict(p, i) for i, p in enumerate(issues[:top_n], start=1)),
        other_themes=tuple(problem_dict(p) for p in ranked if p.category == "other")[:5],
        severe_unclustered=tuple(severe_unclustered),
        classifier_version=classifier_version,
        merges=tuple(merges),
        splits=tuple({"problem": s, "fragments_joined": n} for s, n in splits),
        fix_watch=tuple(fix_watch),
    )
