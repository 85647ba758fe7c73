"""Satisfaction and support metrics of a period, compared with the previous period.

Pure core: standard library only, no I/O. The caller chooses the period (see
:func:`period_bounds`) and passes its items; every metric comes back as a :class:`MetricValue`.

Conventions:

* Datetimes are compared as instants; a naive datetime is taken as UTC.
* A ticket is an item with ``opened_at``. A duration of exactly the limit counts as *within*.
  An unresolved ticket counts as missed once ``now - opened_at`` exceeds the limit and is left
  out (not yet decidable) before that. A ticket finished without the needed timestamp (closed
  status but no ``resolved_at``; resolved but no ``first_response_at``), or with a timestamp
  before ``opened_at``, is left out: its duration is unknown.
* Out-of-range scores (rating outside 1–5, NPS outside 0–10, CES outside 1–7) count as missing.
* A metric with fewer than ``min_responses`` responses keeps its value but has ``enough=False``
  and a note; with no responses its value is ``None``. ``previous``/``change`` are computed on
  the previous period's items with the same ``now`` (``change`` = value − previous).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from feedback_miner.domain.format import metric_value
from feedback_miner.domain.types import FeedbackItem
from feedback_miner.domain.weeks import shift_week, week_bounds
from feedback_miner.errors import InputError

__all__ = [
    "DEFAULT_TARGETS", "FIRST_RESPONSE_LIMITS", "GROUP_FIELDS", "METRIC_KEYS", "NONE_GROUP",
    "GroupComparison", "MetricValue", "compare_groups", "compute_metrics", "metrics_by",
    "period_bounds", "render_metrics_markdown", "repeat_rate", "repeat_share",
]

DEFAULT_TARGETS: Mapping[str, float] = {
    "csat": 0.90, "resolution_48h": 1.0, "first_response_sla": 1.0, "messaging_positive": 0.75,
    "messaging_positive_buyers": 0.75, "messaging_positive_sellers": 0.75,  # "from both buyers and sellers"
    # The plan tracks NPS without a number; +30 is a common "good" mark. Set FM_METRIC_TARGETS to your own.
    "nps": 30.0,
}
_HOUR = timedelta(hours=1)
FIRST_RESPONSE_LIMITS: Mapping[str, timedelta] = {
    "chat": _HOUR, "email": _HOUR, "messaging": _HOUR, "phone": 24 * _HOUR,
}
_DEFAULT_RESPONSE_LIMIT = timedelta(hours=24)
_RESOLUTION_LIMIT = timedelta(hours=48)
_CLOSED_STATUSES = frozenset({"solved", "resolved", "closed"})
GROUP_FIELDS: tuple[str, ...] = ("channel", "segment", "source")
NONE_GROUP = "(none)"


@dataclass(frozen=True)
class MetricValue:
    """One metric of one period. ``n`` is the number of responses (or tickets) behind it."""

    key: str
    label: str
    value: float | None
    unit: str  # "share" | "points" | "hours" | "count" | "score"
    target: float | None = None
    n: int = 0
    previous: float | None = None
    change: float | None = None
    enough: bool = False
    note: str = ""
    parts: dict[str, float] = field(default_factory=dict)
    meets_target: bool | None = None


@dataclass(frozen=True)
class GroupComparison:
    """Members (e.g. one problem's items) against all others; ``None`` where not computable."""

    members_n: int
    others_n: int
    csat_members: float | None
    csat_others: float | None
    csat_difference_points: float | None  # (members − others) × 100
    csat_members_n: int
    csat_others_n: int
    nps_members: float | None
    nps_others: float | None
    nps_difference_points: float | None
    nps_members_n: int
    nps_others_n: int
    missed_48h_share: float | None  # of members' decidable tickets
    tickets_n: int


@dataclass(frozen=True)
class _Calc:
    value: float | None
    n: int
    parts: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Spec:
    key: str
    label: str
    unit: str
    noun: str
    higher_is_better: bool
    compute: Callable[[Sequence[FeedbackItem], datetime], _Calc]


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _share(flags: Sequence[bool]) -> _Calc:
    n = len(flags)
    return _Calc(sum(flags) / n if n else None, n)


def _in_range(score: int | None, low: int, high: int) -> bool:
    return isinstance(score, int) and not isinstance(score, bool) and low <= score <= high


def _ratings(items: Sequence[FeedbackItem]) -> list[int]:
    return [i.rating for i in items if i.rating is not None and _in_range(i.rating, 1, 5)]


def _norm(value: str | None) -> str:
    return (value or "").strip().lower()


def _within(
    item: FeedbackItem, done_at: datetime | None, limit: timedelta, now: datetime
) -> bool | None:
    """True within ``limit``, False missed, None when not decidable (or unknown)."""
    assert item.opened_at is not None
    opened = _utc(item.opened_at)
    if done_at is not None:
        took = _utc(done_at) - opened
        return None if took < timedelta(0) else took <= limit
    if item.resolved_at is not None or _norm(item.ticket_status) in _CLOSED_STATUSES:
        return None  # finished, but the time of this event was not recorded
    return False if now - opened > limit else None


def _resolution_hours(items: Sequence[FeedbackItem]) -> list[float]:
    out: list[float] = []
    for i in items:
        if i.opened_at is not None and i.resolved_at is not None:
            took = _utc(i.resolved_at) - _utc(i.opened_at)
            if took >= timedelta(0):
                out.append(took.total_seconds() / 3600.0)
    return out


def _csat(items: Sequence[FeedbackItem], now: datetime) -> _Calc:
    return _share([r >= 4 for r in _ratings(items)])


def _csat_binary(items: Sequence[FeedbackItem], now: datetime) -> _Calc:
    votes = [_norm(i.satisfaction) for i in items]
    return _share([v == "good" for v in votes if v in ("good", "bad")])


def _nps(items: Sequence[FeedbackItem], now: datetime) -> _Calc:
    scores = [i.nps for i in items if i.nps is not None and _in_range(i.nps, 0, 10)]
    n = len(scores)
    if not n:
        return _Calc(None, 0)
    promoters = sum(s >= 9 for s in scores) / n
    detractors = sum(s <= 6 for s in scores) / n
    passives = sum(7 <= s <= 8 for s in scores) / n
    parts = {"promoters": promoters, "passives": passives, "detractors": detractors}
    return _Calc((promoters - detractors) * 100.0, n, parts)


def _ces(items: Sequence[FeedbackItem], now: datetime) -> _Calc:
    scores = [float(i.ces) for i in items if i.ces is not None and _in_range(i.ces, 1, 7)]
    return _Calc(statistics.fmean(scores) if scores else None, len(scores))


def _resolution_48h(items: Sequence[FeedbackItem], now: datetime) -> _Calc:
    tickets = [i for i in items if i.opened_at is not None]
    outcomes = [_within(t, t.resolved_at, _RESOLUTION_LIMIT, now) for t in tickets]
    decided = [o for o in outcomes if o is not None]
    calc = _share(decided)
    parts = {
        "within": float(sum(decided)),
        "missed": float(len(decided) - sum(decided)),
        "not_yet_decidable": float(len(outcomes) - len(decided)),
    }
    return _Calc(calc.value, calc.n, parts)


_Compute = Callable[[Sequence[FeedbackItem], datetime], _Calc]


def _hours(stat: Callable[[list[float]], float]) -> _Compute:
    def compute(items: Sequence[FeedbackItem], now: datetime) -> _Calc:
        hours = _resolution_hours(items)
        return _Calc(float(stat(hours)) if hours else None, len(hours))

    return compute


def _open_past_48h(items: Sequence[FeedbackItem], now: datetime) -> _Calc:
    tickets = [i for i in items if i.opened_at is not None]
    late = sum(_within(t, None, _RESOLUTION_LIMIT, now) is False for t in tickets)
    return _Calc(float(late) if tickets else None, len(tickets))


def _first_response_sla(items: Sequence[FeedbackItem], now: datetime) -> _Calc:
    limits = FIRST_RESPONSE_LIMITS
    outcomes = [
        _within(t, t.first_response_at, limits.get(_norm(t.channel), _DEFAULT_RESPONSE_LIMIT), now)
        for t in items
        if t.opened_at is not None
    ]
    return _share([o for o in outcomes if o is not None])


def _fcr(items: Sequence[FeedbackItem], now: datetime) -> _Calc:
    return _share([f for f in (i.first_contact_resolution for i in items) if f is not None])


def _escalation(items: Sequence[FeedbackItem], now: datetime) -> _Calc:
    return _share([i.escalated for i in items if i.escalated is not None])


def _messaging_positive(items: Sequence[FeedbackItem], now: datetime) -> _Calc:
    return _csat([i for i in items if _norm(i.channel) == "messaging"], now)


def _messaging_positive_of(role: str) -> _Compute:
    def compute(items: Sequence[FeedbackItem], now: datetime) -> _Calc:
        return _messaging_positive([i for i in items if _norm(i.role) == role], now)

    return compute


def _aht(items: Sequence[FeedbackItem], now: datetime) -> _Calc:
    """Average handle time in minutes: the export's handle time where it gives one; a ticket with
    none counts by its open-to-close time only when no ticket of the period has a handle time."""
    given = [float(i.handle_minutes) for i in items if i.handle_minutes is not None]
    if given:
        return _Calc(statistics.fmean(given), len(given), {"source_handle_time": 1.0})
    spans = [h * 60 for h in _resolution_hours(items)]
    return _Calc(statistics.fmean(spans) if spans else None, len(spans), {"source_handle_time": 0.0})


_SPECS: tuple[_Spec, ...] = (
    _Spec("csat", "CSAT (4–5 of 5)", "share", "ratings", True, _csat),
    _Spec("csat_binary", "CSAT (good vs bad)", "share", "responses", True, _csat_binary),
    _Spec("nps", "NPS (promoters − detractors)", "points", "responses", True, _nps),
    _Spec("ces", "Customer effort (1–7, lower is better)", "score", "responses", False, _ces),
    _Spec("resolution_48h", "Resolved within 48 h", "share", "tickets", True, _resolution_48h),
    _Spec("mean_resolution_hours", "Mean resolution time", "hours", "tickets", False,
          _hours(statistics.fmean)),
    _Spec("median_resolution_hours", "Median resolution time", "hours", "tickets", False,
          _hours(statistics.median)),
    _Spec("open_past_48h", "Tickets open past 48 h", "count", "tickets", False, _open_past_48h),
    _Spec("first_response_sla", "First response within SLA (1 h chat/email/messaging, 24 h phone)",
          "share", "tickets", True, _first_response_sla),
    _Spec("first_contact_resolution", "First-contact resolution", "share", "responses", True, _fcr),
    _Spec("escalation_rate", "Escalation rate", "share", "responses", False, _escalation),
    _Spec("messaging_positive", "Positive messaging ratings (4–5)", "share", "ratings", True,
          _messaging_positive),
    _Spec("messaging_positive_buyers", "Positive messaging ratings, buyers", "share", "ratings", True,
          _messaging_positive_of("buyer")),
    _Spec("messaging_positive_sellers", "Positive messaging ratings, sellers", "share", "ratings", True,
          _messaging_positive_of("seller")),
    _Spec("aht_minutes", "Average handle time", "minutes", "tickets", False, _aht),
)
METRIC_KEYS: tuple[str, ...] = tuple(s.key for s in _SPECS) + ("repeat_issue_rate",)


def _build(
    key: str, label: str, unit: str, noun: str, higher_is_better: bool,
    cur: _Calc, prev: _Calc | None, target: float | None, min_responses: int,
) -> MetricValue:
    singular = noun.removesuffix("s")
    if cur.n == 0:
        enough, note = False, f"no {noun} in this period"
    elif unit == "count":  # a count needs no sample size to be meaningful
        enough, note = True, ""
    elif cur.n < min_responses:
        what = "percentage" if unit == "share" else "figure"
        word = singular if cur.n == 1 else noun
        enough = False
        note = f"only {cur.n} {word} (fewer than {min_responses}): not enough for a reliable {what}"
    else:
        enough, note = True, ""
    value = cur.value if cur.n else None
    previous = prev.value if prev is not None and prev.n else None
    change = value - previous if value is not None and previous is not None else None
    meets: bool | None = None
    if target is not None and value is not None:
        meets = value >= target if higher_is_better else value <= target
    return MetricValue(
        key=key, label=label, value=value, unit=unit, target=target, n=cur.n, previous=previous,
        change=change, enough=enough, note=note, parts=dict(cur.parts), meets_target=meets,
    )


def compute_metrics(
    items: Sequence[FeedbackItem], *, now: datetime, previous: Sequence[FeedbackItem] = (),
    min_responses: int = 10, targets: Mapping[str, float] | None = None,
) -> list[MetricValue]:
    """Every metric of ``items`` (one period), compared with ``previous`` (the period before).

    ``targets`` are merged over :data:`DEFAULT_TARGETS`. The list is in a fixed order and always
    holds every metric (value ``None`` when there is nothing to compute it from).
    """
    if min_responses < 1:
        raise InputError(f"min_responses must be at least 1, got {min_responses}")
    now = _utc(now)
    goals = {**DEFAULT_TARGETS, **(targets or {})}
    out: list[MetricValue] = []
    for s in _SPECS:
        cur = s.compute(items, now)
        prev = s.compute(previous, now) if previous else None
        out.append(_build(s.key, s.label, s.unit, s.noun, s.higher_is_better, cur, prev,
                          goals.get(s.key), min_responses))
    return out


def _groups(items: Sequence[FeedbackItem], by: str) -> dict[str, list[FeedbackItem]]:
    out: dict[str, list[FeedbackItem]] = {}
    for item in items:
        raw = getattr(item, by)
        out.setdefault((raw.strip() if isinstance(raw, str) else "") or NONE_GROUP, []).append(item)
    return out


def metrics_by(
    items: Sequence[FeedbackItem], previous: Sequence[FeedbackItem] = (), *, by: str,
    now: datetime, min_responses: int = 10, targets: Mapping[str, float] | None = None,
) -> dict[str, list[MetricValue]]:
    """:func:`compute_metrics` per group of ``by`` (channel, segment or source), ``(none)`` last.

    A group present only in the previous period is included (its current values are ``None``).
    """
    if by not in GROUP_FIELDS:
        raise InputError(f"cannot group metrics by {by!r}: use one of {', '.join(GROUP_FIELDS)}")
    current, before = _groups(items, by), _groups(previous, by)
    keys = sorted(set(current) | set(before), key=lambda k: (k == NONE_GROUP, k))
    return {
        k: compute_metrics(current.get(k, []), now=now, previous=before.get(k, []),
                           min_responses=min_responses, targets=targets)
        for k in keys
    }


def repeat_share(customer_ids: Sequence[str]) -> float | None:
    """Share of customers who appear more than once among ``customer_ids`` (None: nobody).

    One id per report of one problem; :func:`repeat_rate` is the same idea across problems.
    """
    counts = Counter(c for c in customer_ids if c)
    if not counts:
        return None
    return round(sum(1 for n in counts.values() if n > 1) / len(counts), 4)


def repeat_rate(
    pairs: Sequence[tuple[str, str]], *, previous: Sequence[tuple[str, str]] = (),
    min_responses: int = 10, target: float | None = None,
) -> MetricValue:
    """Share of customers who reported the same problem more than once.

    ``pairs`` are ``(customer_id, problem_id)``, one per report; empty ids are ignored.
    ``n`` is the number of distinct customers.
    """

    def calc(ps: Sequence[tuple[str, str]]) -> _Calc:
        counts = Counter((c, p) for c, p in ps if c and p)
        customers = {c for c, _ in counts}
        repeaters = {c for (c, _), k in counts.items() if k > 1}
        return _Calc(len(repeaters) / len(customers) if customers else None, len(customers))

    return _build("repeat_issue_rate", "Repeat issue rate", "share", "customers", False,
                  calc(pairs), calc(previous) if previous else None, target, min_responses)


def compare_groups(
    members: Sequence[FeedbackItem], others: Sequence[FeedbackItem], *, now: datetime
) -> GroupComparison:
    """CSAT and NPS of ``members`` against ``others``; share of members' tickets missing 48 h."""
    now = _utc(now)
    cm, co = _csat(members, now), _csat(others, now)
    nm, no = _nps(members, now), _nps(others, now)
    res = _resolution_48h(members, now)
    csat_diff = nps_diff = None
    if cm.value is not None and co.value is not None:
        csat_diff = (cm.value - co.value) * 100.0
    if nm.value is not None and no.value is not None:
        nps_diff = nm.value - no.value
    return GroupComparison(
        members_n=len(members), others_n=len(others),
        csat_members=cm.value, csat_others=co.value, csat_difference_points=csat_diff,
        csat_members_n=cm.n, csat_others_n=co.n,
        nps_members=nm.value, nps_others=no.value, nps_difference_points=nps_diff,
        nps_members_n=nm.n, nps_others_n=no.n,
        missed_48h_share=1.0 - res.value if res.value is not None else None, tickets_n=res.n,
    )


_fmt = metric_value  # the one formatter (domain.format)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_metrics_markdown(metrics: Sequence[MetricValue]) -> str:
    """A Markdown table of ``metrics``; one with too few responses shows its note instead."""
    lines = ["| Metric | Value | Target | Change | Responses | Status |", "|" + "---|" * 6]
    for m in metrics:
        shown = m.enough and m.value is not None
        value = _fmt(m.value, m.unit) if shown and m.value is not None else m.note or "—"
        target = _fmt(m.target, m.unit) if m.target is not None else "—"
        change = _fmt(m.change, m.unit, change=True) if shown and m.change is not None else "—"
        status = "—" if not shown or m.meets_target is None else ("✅" if m.meets_target else "⚠️")
        row = (m.label, value, target, change, str(m.n), status)
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


_ANCHORS = {
    "month": re.compile(r"^(\d{4})-(\d{2})$"),
    "quarter": re.compile(r"^(\d{4})-Q(\d)$"),
}
_EXAMPLES = {"week": "2026-W47", "month": "2026-11", "quarter": "2026-Q4"}


def _month(year: int, index: int) -> datetime:
    """1 Jan of ``year`` shifted by ``index`` months (may be negative), UTC."""
    return datetime(year + index // 12, index % 12 + 1, 1, tzinfo=UTC)


def period_bounds(kind: str, anchor: str) -> tuple[datetime, datetime, str]:
    """UTC ``[start, end)`` of a period and the previous period's anchor.

    ``kind`` is ``week`` (``2026-W47``), ``month`` (``2026-11``) or ``quarter`` (``2026-Q4``).
    """
    kind_n, text = kind.strip().lower(), anchor.strip().upper()
    if kind_n not in _EXAMPLES:
        raise InputError(f"unknown period kind {kind!r}: use one of {', '.join(_EXAMPLES)}")
    bad = f"{kind_n} {anchor!r} is not a {kind_n} like {_EXAMPLES[kind_n]!r}"
    try:
        if kind_n == "week":
            start, end = week_bounds(text)
            return start, end, shift_week(text, -1)
        size = 1 if kind_n == "month" else 3
        m = _ANCHORS[kind_n].match(text)
        if not m or not 1 <= int(m.group(2)) <= 12 // size:
            raise InputError(bad + (" (01–12)" if size == 1 else " (Q1–Q4)"))
        year, first = int(m.group(1)), (int(m.group(2)) - 1) * size
        prev = _month(year, first - size)
        label = f"{prev.month:02d}" if size == 1 else f"Q{(prev.month + 2) // 3}"
        return _month(year, first), _month(year, first + size), f"{prev.year:04d}-{label}"
    except (ValueError, OverflowError) as exc:
        raise InputError(f"{bad}: {exc}") from exc
