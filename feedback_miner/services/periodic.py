"""Monthly and quarterly reports (the weekly digest over a longer period) and the metrics table."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta

from feedback_miner.domain.metrics import compute_metrics, metrics_by, period_bounds, render_metrics_markdown
from feedback_miner.domain.ports import Classifier, FeedbackStore
from feedback_miner.errors import InputError, NotFoundError
from feedback_miner.services.analysis import analyze_items
from feedback_miner.stages.cluster import ClusterParams
from feedback_miner.stages.digest import Digest
from feedback_miner.stages.protocols import Embedder, Progress

__all__ = ["metrics_table", "parse_day", "run_period"]


def _now() -> datetime:
    return datetime.now(UTC)


def run_period(store: FeedbackStore, embedder: Embedder, clf: Classifier, *, kind: str, anchor: str,
               params: ClusterParams | None = None, top_n: int = 10, progress: Progress | None = None,
               targets: Mapping[str, float] | None = None) -> Digest:
    """The digest of a month (``2026-11``) or quarter (``2026-Q4``), stored under that label."""
    if kind not in ("month", "quarter"):
        raise InputError(f"period kind {kind!r} must be month or quarter (weeks use `run --week`)")
    start, end, prev_anchor = period_bounds(kind, anchor)
    items = store.feedback_between(start, end)
    if not items:
        raise NotFoundError(f"no feedback stored for {kind} {anchor}")
    p_start, p_end, _ = period_bounds(kind, prev_anchor)
    prev = store.feedback_between(p_start, p_end)
    now = min(end, _now())
    digest = analyze_items(items, embedder, clf, params=params, use_given_categories=True, with_time=True,
                           top_n=top_n, progress=progress, cache=store, period=anchor.upper(),
                           metrics=compute_metrics(items, now=now, previous=prev, targets=targets), now=now).digest
    store.save_digest(anchor.upper(), digest.to_dict(), None)
    return digest


def parse_day(value: str, name: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(value), time.min, UTC)
    except ValueError:
        raise InputError(f"{name} {value!r} is not a date like 2026-11-01") from None


def metrics_table(store: FeedbackStore, start: datetime, end: datetime, *, by: str | None = None) -> str:
    """Markdown table of the support metrics for [start, end), compared with the period before."""
    if end <= start:
        raise InputError("--to must be after --from")
    span = end - start
    items = store.feedback_between(start, end)
    prev = store.feedback_between(start - span, start)
    now = min(end, _now())
    head = f"Support metrics {start.date()} to {(end - timedelta(days=1)).date()} (vs the {span.days} days before)"
    if by is None:
        return head + "\n\n" + render_metrics_markdown(compute_metrics(items, now=now, previous=prev))
    groups = metrics_by(items, prev, by=by, now=now)
    return head + "\n\n" + "\n\n".join(f"### {by}: {g}\n\n{render_metrics_markdown(m)}" for g, m in groups.items())
