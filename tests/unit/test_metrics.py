"""Unit tests of feedback_miner.domain.metrics: every formula against hand-computed numbers."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedback_miner.domain.metrics import (
    DEFAULT_TARGETS,
    METRIC_KEYS,
    MetricValue,
    compare_groups,
    compute_metrics,
    metrics_by,
    period_bounds,
    render_metrics_markdown,
    repeat_rate,
)
from feedback_miner.domain.types import FeedbackItem
from feedback_miner.errors import InputError

H = timedelta(hours=1)
T0 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # Monday of 2026-W47
NOW = T0 + timedelta(days=7)
_ids = itertools.count(1)


def item(**kw: Any) -> FeedbackItem:
    kw.setdefault("created_at", T0)
    return FeedbackItem(text="t", source="test", external_id=str(next(_ids)), **kw)


def ticket(
    resolved_after: timedelta | None = None, *, opened: datetime = T0, **kw: Any
) -> FeedbackItem:
    resolved = opened + resolved_after if resolved_after is not None else None
    return item(opened_at=opened, resolved_at=resolved, **kw)


def metric(items: list[FeedbackItem], key: str, *, now: datetime = NOW, min_responses: int = 1,
           **kw: Any) -> MetricValue:
    found = {m.key: m for m in compute_metrics(items, now=now, min_responses=min_responses, **kw)}
    return found[key]


# --- satisfaction -----------------------------------------------------------------------------


def test_csat_share_of_4_and_5_ignoring_missing_and_out_of_range() -> None:
    ratings = [5, 4, 3, 2, 1, 5, 4, 4, 5, None, 7, 0]
    m = metric([item(rating=r) for r in ratings], "csat")
    # valid: 5,4,3,2,1,5,4,4,5 -> n=9; 4-5: 5,4,5,4,4,5 = 6 -> 6/9 = 0.6667
    assert m.n == 9 and m.value == pytest.approx(6 / 9)
    assert m.unit == "share" and m.target == 0.90 and m.meets_target is False and m.enough


def test_csat_binary_from_good_bad() -> None:
    votes = ["good", "GOOD", "bad", "meh", None]
    m = metric([item(satisfaction=v) for v in votes], "csat_binary")
    # good, good, bad -> 2/3; "meh" and None ignored; no target
    assert m.n == 3 and m.value == pytest.approx(2 / 3)
    assert m.target is None and m.meets_target is None


def test_nps_points_and_shares() -> None:
    scores = [10, 10, 9, 8, 7, 6, 0, 9, 10, 5, 11, -1, None]
    items = [item(nps=s) for s in scores]
    m = metric(items, "nps")
    # valid n=10; promoters 10,10,9,9,10 = 5 (0.5); passives 8,7 = 2 (0.2);
    # detractors 6,0,5 = 3 (0.3)
    # NPS = (0.5 - 0.3) * 100 = +20 points
    assert m.n == 10 and m.unit == "points" and m.value == pytest.approx(20.0)
    assert m.parts == pytest.approx({"promoters": 0.5, "passives": 0.2, "detractors": 0.3})
    assert m.target == 30.0 and m.meets_target is False  # the default NPS mark (FM_METRIC_TARGETS overrides it)
    assert metric(items, "nps", targets={"nps": 20.0}).meets_target is True
    assert metric(items, "nps", targets={"nps": 30.0}).meets_target is False


def test_ces_mean_ignores_missing_and_out_of_range() -> None:
    m = metric([item(ces=c) for c in [2, 3, 7, None, 0, 8]], "ces")
    # valid 2, 3, 7 -> mean 12/3 = 4.0
    assert m.n == 3 and m.value == pytest.approx(4.0) and m.unit == "score" and m.target is None


def test_first_contact_resolution_and_escalation_rate() -> None:
    fcr = metric([item(first_contact_resolution=f) for f in [True, True, False, None]],
                 "first_contact_resolution")
    esc = metric([item(escalated=e) for e in [True, False, False, False, None]], "escalation_rate")
    assert fcr.n == 3 and fcr.value == pytest.approx(2 / 3)  # 2 of 3
    assert esc.n == 4 and esc.value == pytest.approx(0.25)  # 1 of 4
    assert metric([item(escalated=True)], "escalation_rate",
                  targets={"escalation_rate": 0.1}).meets_target is False  # lower is better


def test_messaging_positive_only_counts_messaging() -> None:
    items = [item(channel="messaging", rating=r) for r in [5, 4, 2, 1, None]]
    items += [item(channel="chat", rating=5)]
    m = metric(items, "messaging_positive")
    # messaging ratings 5,4,2,1 -> 2/4 = 0.5 < target 0.75
    assert m.n == 4 and m.value == pytest.approx(0.5)
    assert m.target == 0.75 and m.meets_target is False


# --- sample size ------------------------------------------------------------------------------


def test_empty_period_has_no_values() -> None:
    metrics = compute_metrics([], now=NOW)
    assert [m.key for m in metrics] == list(METRIC_KEYS[:-1])
    for m in metrics:
        assert m.value is None and m.n == 0 and not m.enough and m.previous is None
        assert m.change is None and m.meets_target is None and m.note.startswith("no ")


def test_exactly_one_response_is_not_enough() -> None:
    m = metric([item(rating=5)], "csat", min_responses=10)
    assert m.value == 1.0 and m.n == 1 and m.enough is False
    assert "only 1 rating (fewer than 10)" in m.note and "percentage" in m.note


def test_min_responses_must_be_positive() -> None:
    with pytest.raises(InputError, match="min_responses"):
        compute_metrics([], now=NOW, min_responses=0)


# --- tickets: 48 h resolution -----------------------------------------------------------------


def test_resolution_boundary_exactly_48h_is_within_one_second_more_is_missed() -> None:
    items = [ticket(48 * H), ticket(48 * H + timedelta(seconds=1))]
    m = metric(items, "resolution_48h")
    # 48:00:00 within, 48:00:01 missed -> 1/2
    assert m.n == 2 and m.value == pytest.approx(0.5) and m.meets_target is False
    assert m.parts == {"within": 1.0, "missed": 1.0, "not_yet_decidable": 0.0}


def test_resolution_across_timezones() -> None:
    opened = datetime(2026, 11, 16, 10, 0, tzinfo=timezone(timedelta(hours=2)))  # = 08:00Z
    exact = item(opened_at=opened, resolved_at=datetime(2026, 11, 18, 8, 0, tzinfo=UTC))
    late = item(opened_at=opened, resolved_at=datetime(2026, 11, 18, 9, 30, tzinfo=UTC))
    # exact: 08:00Z -> 08:00Z two days later = 48.0 h (within)
    assert metric([exact], "resolution_48h").value == 1.0
    # late: 49.5 h (a wall-clock comparison ignoring +02:00 would wrongly give 47.5 h)
    assert metric([late], "resolution_48h").value == 0.0
    assert metric([late], "mean_resolution_hours").value == pytest.approx(49.5)


def test_naive_datetimes_are_utc() -> None:
    naive = datetime(2026, 11, 16, 9, 0)
    m = metric([item(opened_at=naive, resolved_at=T0 + 48 * H)], "resolution_48h",
               now=datetime(2026, 11, 30))
    assert m.value == 1.0 and m.n == 1


def test_still_open_tickets_younger_and_older_than_48h() -> None:
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    items = [
        ticket(opened=now - 24 * H),  # 24 h old: not yet decidable
        ticket(opened=now - 48 * H),  # exactly 48 h old: still not decidable
        ticket(opened=now - 48 * H - timedelta(seconds=1)),  # past 48 h: missed
        ticket(10 * H, opened=now - 72 * H),  # resolved in 10 h: within
        ticket(opened=now - 90 * H, ticket_status="Closed"),  # closed, no time: unknown, left out
        item(rating=5),  # not a ticket
    ]
    res = metric(items, "resolution_48h", now=now)
    # decided: missed + within -> 1/2
    assert res.n == 2 and res.value == pytest.approx(0.5)
    assert res.parts == {"within": 1.0, "missed": 1.0, "not_yet_decidable": 3.0}
    late = metric(items, "open_past_48h", now=now)
    # 5 tickets, 1 open past 48 h
    assert late.value == 1.0 and late.n == 5 and late.unit == "count" and late.enough


def test_mean_and_median_resolution_hours() -> None:
    items = [ticket(10 * H), ticket(20 * H), ticket(60 * H), ticket(), ticket(-H)]
    # resolved 10, 20, 60 h (open and negative-duration tickets ignored): mean 30, median 20
    mean, median = metric(items, "mean_resolution_hours"), metric(items, "median_resolution_hours")
    assert mean.n == 3 and mean.value == pytest.approx(30.0) and mean.unit == "hours"
    assert median.n == 3 and median.value == pytest.approx(20.0)


# --- tickets: first response ------------------------------------------------------------------


def test_first_response_limits_per_channel() -> None:
    def answered(channel: str | None, after: timedelta) -> FeedbackItem:
        return ticket(opened=T0, channel=channel, first_response_at=T0 + after)

    items = [
        answered("chat", H),  # 1 h limit, exactly 1 h: within
        answered("email", H + timedelta(seconds=1)),  # 1 h limit: missed
        answered("messaging", H / 2),  # within
        answered("phone", 23 * H),  # 24 h limit: within
        answered("phone", 24 * H + timedelta(seconds=1)),  # missed
        answered("fax", 5 * H),  # unknown channel -> 24 h: within
        answered(None, 25 * H),  # no channel -> 24 h: missed
    ]
    m = metric(items, "first_response_sla")
    # within: chat, messaging, phone 23 h, fax = 4 of 7
    assert m.n == 7 and m.value == pytest.approx(4 / 7) and m.target == 1.0


def test_first_response_missing_counts_only_once_past_limit() -> None:
    now = T0 + 2 * H
    items = [
        ticket(opened=T0, channel="chat"),  # no response, 2 h > 1 h: missed
        ticket(opened=T0, channel="phone"),  # no response, 2 h < 24 h: not yet decidable
        ticket(H, opened=T0, channel="email"),  # resolved without a recorded response: unknown
    ]
    m = metric(items, "first_response_sla", now=now)
    assert m.n == 1 and m.value == 0.0


# --- previous period, grouping, comparison ----------------------------------------------------


def test_change_against_previous_period() -> None:
    current = [item(rating=r) for r in [5] * 9 + [1]]  # 9/10 = 0.9
    previous = [item(rating=r) for r in [4] * 8 + [2, 3]]  # 8/10 = 0.8
    m = metric(current, "csat", previous=previous, min_responses=10)
    assert m.value == pytest.approx(0.9) and m.previous == pytest.approx(0.8)
    assert m.change == pytest.approx(0.1) and m.enough and m.meets_target is True
    assert metric(current, "nps", previous=previous).previous is None  # nothing to compare


def test_metrics_by_channel_with_none_group() -> None:
    items = [item(channel="chat", rating=5), item(channel="chat", rating=2),
             item(channel=None, rating=4), item(channel="  ", rating=1)]
    previous = [item(channel="email", rating=5)]
    groups = metrics_by(items, previous, by="channel", now=NOW, min_responses=1)
    assert list(groups) == ["chat", "email", "(none)"]
    chat = {m.key: m for m in groups["chat"]}["csat"]
    none = {m.key: m for m in groups["(none)"]}["csat"]
    email = {m.key: m for m in groups["email"]}["csat"]
    assert chat.n == 2 and chat.value == pytest.approx(0.5)  # 5, 2 -> 1/2
    assert none.n == 2 and none.value == pytest.approx(0.5)  # 4, 1 -> 1/2
    assert email.value is None and email.previous == 1.0


def test_messaging_positive_by_segment() -> None:
    items = [item(channel="messaging", segment="buyer", rating=r) for r in [5, 5, 3]]
    items += [item(channel="messaging", segment="seller", rating=r) for r in [1, 4]]
    groups = metrics_by(items, by="segment", now=NOW)
    buyer = {m.key: m for m in groups["buyer"]}["messaging_positive"]
    seller = {m.key: m for m in groups["seller"]}["messaging_positive"]
    assert buyer.value == pytest.approx(2 / 3) and buyer.n == 3 and not buyer.enough  # 2 of 3
    assert seller.value == pytest.approx(0.5) and seller.n == 2  # 1 of 2


def test_metrics_by_rejects_unknown_field() -> None:
    with pytest.raises(InputError, match="channel, segment, source"):
        metrics_by([], by="device", now=NOW)


def test_repeat_rate() -> None:
    pairs = [("a", "p1"), ("a", "p1"), ("b", "p1"), ("b", "p2"),
             ("c", "p3"), ("c", "p3"), ("c", "p3"), ("d", "p1"), ("", "p1")]
    m = repeat_rate(pairs, previous=[("a", "p1"), ("b", "p1")], min_responses=1)
    # customers a, b, c, d (empty id ignored); repeated: a (p1 twice), c (p3 thrice) -> 2/4
    assert m.key == "repeat_issue_rate" and m.n == 4 and m.value == pytest.approx(0.5)
    assert m.previous == 0.0 and m.change == pytest.approx(0.5)
    empty = repeat_rate([])
    assert empty.value is None and empty.n == 0


def test_compare_groups() -> None:
    members = [item(rating=5, nps=10), item(rating=1, nps=0),
               ticket(50 * H), ticket(10 * H), ticket(opened=NOW - H)]
    others = [item(rating=r, nps=s) for r, s in [(5, 10), (5, 9), (4, 8), (2, 7)]]
    c = compare_groups(members, others, now=NOW)
    # CSAT members 1/2 = 0.5, others 3/4 = 0.75 -> -25 points
    assert c.csat_members == 0.5 and c.csat_others == 0.75
    assert c.csat_difference_points == pytest.approx(-25.0)
    # NPS members (1 promoter, 1 detractor of 2) = 0; others (2 promoters of 4) = +50 -> -50
    assert c.nps_members == pytest.approx(0.0) and c.nps_others == pytest.approx(50.0)
    assert c.nps_difference_points == pytest.approx(-50.0)
    # tickets: 50 h missed, 10 h within, 1 h old open not decidable -> 1/2 missed
    assert c.missed_48h_share == pytest.approx(0.5) and c.tickets_n == 2
    none = compare_groups([], others, now=NOW)
    assert none.csat_members is None and none.csat_difference_points is None
    assert none.missed_48h_share is None and none.nps_difference_points is None


# --- rendering --------------------------------------------------------------------------------


def mv(key: str, value: float | None, unit: str, **kw: Any) -> MetricValue:
    base: dict[str, Any] = {"label": key.upper(), "n": 40, "enough": True}
    return MetricValue(key=key, value=value, unit=unit, **{**base, **kw})


def test_render_markdown_formats_units_and_status() -> None:
    table = render_metrics_markdown([
        mv("csat", 0.875, "share", target=0.9, change=0.025, meets_target=False),
        mv("nps", 12.0, "points", change=-3.0),
        mv("mean", 31.25, "hours"),
        mv("fcr", 0.95, "share", target=0.9, meets_target=True),
        mv("few", 1.0, "share", n=1, enough=False, note="only 1 rating | too few", target=0.9,
           meets_target=True),
    ])
    lines = table.strip().splitlines()
    assert lines[0] == "| Metric | Value | Target | Change | Responses | Status |"
    assert lines[2] == "| CSAT | 87.5% | 90.0% | +2.5 pp | 40 | ⚠️ |"
    assert lines[3] == "| NPS | +12 | — | -3 | 40 | — |"
    assert lines[4] == "| MEAN | 31.2 h | — | — | 40 | — |"
    assert lines[5].endswith("| 95.0% | 90.0% | — | 40 | ✅ |")
    assert lines[6] == "| FEW | only 1 rating \\| too few | 90.0% | — | 1 | — |"


def test_render_computed_metrics_shows_note_for_insufficient() -> None:
    table = render_metrics_markdown(compute_metrics([item(rating=5)], now=NOW))
    csat_row = next(line for line in table.splitlines() if line.startswith("| CSAT (4–5 of 5)"))
    assert "only 1 rating (fewer than 10)" in csat_row and "100.0%" not in csat_row
    assert table.count("\n") == 2 + len(METRIC_KEYS) - 1


# --- periods ----------------------------------------------------------------------------------


def d(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


@pytest.mark.parametrize(("kind", "anchor", "expected"), [
    ("week", "2026-W47", (d(2026, 11, 16), d(2026, 11, 23), "2026-W46")),
    ("week", "2027-W01", (d(2027, 1, 4), d(2027, 1, 11), "2026-W53")),  # 2026 has 53 ISO weeks
    ("month", "2026-11", (d(2026, 11, 1), d(2026, 12, 1), "2026-10")),
    ("month", "2026-01", (d(2026, 1, 1), d(2026, 2, 1), "2025-12")),
    ("month", "2026-12", (d(2026, 12, 1), d(2027, 1, 1), "2026-11")),
    ("quarter", "2026-Q4", (d(2026, 10, 1), d(2027, 1, 1), "2026-Q3")),
    ("quarter", "2026-Q1", (d(2026, 1, 1), d(2026, 4, 1), "2025-Q4")),
    ("quarter", "2026-Q2", (d(2026, 4, 1), d(2026, 7, 1), "2026-Q1")),
])
def test_period_bounds(kind: str, anchor: str, expected: tuple[datetime, datetime, str]) -> None:
    assert period_bounds(kind, anchor) == expected


@pytest.mark.parametrize(("kind", "anchor", "match"), [
    ("week", "2026-W54", "2026-W54"),
    ("week", "2026-11", "week '2026-11'"),
    ("month", "2026-13", "01–12"),
    ("month", "Nov 2026", "like '2026-11'"),
    ("quarter", "2026-Q5", "Q1–Q4"),
    ("quarter", "2026-4", "like '2026-Q4'"),
    ("year", "2026", "week, month, quarter"),
])
def test_period_bounds_rejects_bad_anchor(kind: str, anchor: str, match: str) -> None:
    with pytest.raises(InputError, match=match):
        period_bounds(kind, anchor)


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.none() | st.integers(0, 11), st.none() | st.integers(-1, 8)),
                max_size=30))
def test_shares_and_points_stay_in_range(rows: list[tuple[int | None, int | None]]) -> None:
    items = [item(nps=n, rating=r) for n, r in rows]
    by_key = {m.key: m for m in compute_metrics(items, now=NOW)}
    nps, csat = by_key["nps"], by_key["csat"]
    assert nps.value is None or -100.0 <= nps.value <= 100.0
    assert csat.value is None or 0.0 <= csat.value <= 1.0
    assert nps.value is None or sum(nps.parts.values()) == pytest.approx(1.0)
    assert set(DEFAULT_TARGETS) <= set(by_key)
