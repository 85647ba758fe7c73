"""What the support plan's monthly report asks for beyond CSAT and NPS: average handle time, and
messaging satisfaction for buyers and for sellers apart (the 75% target holds for both)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from feedback_miner.domain.metrics import compute_metrics
from feedback_miner.domain.types import FeedbackItem
from feedback_miner.errors import RowError
from feedback_miner.stages.ingest import ColumnMapping, parse_row

T0 = datetime(2026, 11, 10, 9, tzinfo=UTC)


def _item(n: int, **kw: object) -> FeedbackItem:
    return FeedbackItem(text=f"t{n}", source="s", external_id=str(n), created_at=T0, **kw)  # type: ignore[arg-type]


def _by_key(items: list[FeedbackItem]) -> dict[str, object]:
    return {m.key: m for m in compute_metrics(items, now=T0 + timedelta(days=7), min_responses=2)}


def test_aht_is_the_mean_handle_time_when_the_export_gives_one() -> None:
    items = [_item(i, handle_minutes=m, opened_at=T0, resolved_at=T0 + timedelta(hours=5))
             for i, m in enumerate([4.0, 6.0, 11.0])]
    aht = _by_key(items)["aht_minutes"]
    assert aht.value == pytest.approx(7.0) and aht.n == 3 and aht.unit == "minutes"  # type: ignore[attr-defined]
    assert aht.parts["source_handle_time"] == 1.0  # type: ignore[attr-defined]


def test_aht_falls_back_to_open_to_close_without_handle_times() -> None:
    items = [_item(i, opened_at=T0, resolved_at=T0 + timedelta(minutes=m)) for i, m in enumerate([30, 90])]
    aht = _by_key(items)["aht_minutes"]
    assert aht.value == pytest.approx(60.0) and aht.parts["source_handle_time"] == 0.0  # type: ignore[attr-defined]


def test_messaging_satisfaction_for_buyers_and_sellers_apart() -> None:
    buyers = [_item(i, channel="messaging", role="buyer", rating=r) for i, r in enumerate([5, 5, 4, 2])]
    sellers = [_item(10 + i, channel="messaging", role="seller", rating=r) for i, r in enumerate([2, 1, 5])]
    m = _by_key(buyers + sellers)
    assert m["messaging_positive_buyers"].value == pytest.approx(0.75)  # type: ignore[attr-defined]
    assert m["messaging_positive_sellers"].value == pytest.approx(1 / 3)  # type: ignore[attr-defined]
    assert m["messaging_positive_sellers"].target == 0.75 and m["messaging_positive_sellers"].meets_target is False  # type: ignore[attr-defined]


@pytest.mark.parametrize(("role", "handle", "want_role", "want_minutes"), [
    ("Buyer", "12.5", "buyer", 12.5), ("merchant", "0:07:30", "seller", 7.5), ("customer", "1:30:00", "buyer", 90.0),
])
def test_ingest_reads_role_and_handle_time(role: str, handle: str, want_role: str, want_minutes: float) -> None:
    raw = {"text": "slow reply", "created_at": "2026-11-10T09:00:00Z", "role": role, "handle_minutes": handle}
    item = parse_row(raw, 2, ColumnMapping(), "file")
    assert (item.role, item.handle_minutes) == (want_role, want_minutes)


@pytest.mark.parametrize(("field", "value", "match"), [
    ("role", "admin", "role"), ("handle_minutes", "ten", "not a handle time"), ("handle_minutes", "5000", "outside"),
])
def test_bad_role_or_handle_time_is_a_row_error(field: str, value: str, match: str) -> None:
    raw = {"text": "slow reply", "created_at": "2026-11-10T09:00:00Z", field: value}
    with pytest.raises(RowError, match=match) as err:
        parse_row(raw, 7, ColumnMapping(), "file")
    assert err.value.row == 7 and err.value.field == field
