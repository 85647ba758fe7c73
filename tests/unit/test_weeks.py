from __future__ import annotations

from datetime import UTC, datetime

import pytest

from feedback_miner.domain.weeks import last_complete_week, parse_week, shift_week, week_bounds, week_of, weeks_between


def test_week_arithmetic() -> None:
    assert week_of(datetime(2026, 11, 22, 23, 59, tzinfo=UTC)) == "2026-W47"
    assert shift_week("2026-W01", -1) == "2025-W52"
    assert weeks_between("2026-W52", "2027-W02") == ["2026-W52", "2026-W53", "2027-W01", "2027-W02"]
    start, end = week_bounds("2026-W47")
    assert start == datetime(2026, 11, 16, tzinfo=UTC) and (end - start).days == 7
    assert last_complete_week(datetime(2026, 11, 22, tzinfo=UTC)) == "2026-W46"


@pytest.mark.parametrize("bad", ["2026-47", "2026-W54", "W47", ""])
def test_bad_week_is_named(bad: str) -> None:
    with pytest.raises(ValueError, match="week"):
        parse_week(bad)
