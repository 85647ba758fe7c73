"""ISO-week arithmetic: parsing ``2026-W47``, week bounds in UTC, neighbouring weeks."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from feedback_miner.errors import InputError

__all__ = [
    "WEEK_PATTERN",
    "last_complete_week",
    "parse_week",
    "shift_week",
    "week_bounds",
    "week_of",
    "weeks_between",
]

#: The one spelling of an ISO week (``2026-W47``), for validators everywhere.
WEEK_PATTERN = r"^\d{4}-W\d{2}$"
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def parse_week(week: str) -> tuple[int, int]:
    """Return (year, week) of an ISO week string like ``2026-W47``; :class:`InputError` if invalid."""
    m = _WEEK.match(week.strip().upper()) if isinstance(week, str) else None
    if not m:
        raise InputError(f"week {week!r} is not an ISO week like '2026-W47'")
    year, num = int(m.group(1)), int(m.group(2))
    try:
        date.fromisocalendar(year, num, 1)
    except ValueError as exc:
        raise InputError(f"week {week!r} does not exist: {exc}") from exc
    return year, num


def week_of(moment: datetime | date) -> str:
    """The ISO week (``YYYY-Www``) a moment falls in (UTC for aware datetimes)."""
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    year, num, _ = moment.isocalendar()
    return f"{year:04d}-W{num:02d}"


def week_bounds(week: str) -> tuple[datetime, datetime]:
    """[start, end) of an ISO week as aware UTC datetimes (Monday 00:00 to next Monday 00:00)."""
    year, num = parse_week(week)
    start = datetime.combine(date.fromisocalendar(year, num, 1), datetime.min.time(), UTC)
    return start, start + timedelta(days=7)


def shift_week(week: str, n: int) -> str:
    """The ISO week ``n`` weeks after (negative: before) ``week``."""
    start, _ = week_bounds(week)
    return week_of(start + timedelta(weeks=n))


def last_complete_week(now: datetime) -> str:
    """The last ISO week that has fully ended at ``now``."""
    return shift_week(week_of(now), -1)


def weeks_between(first: str, last: str) -> list[str]:
    """Every ISO week from ``first`` to ``last`` inclusive (empty if last < first)."""
    out: list[str] = []
    cur = first
    end_start, _ = week_bounds(last)
    while week_bounds(cur)[0] <= end_start:
        out.append(cur)
        cur = shift_week(cur, 1)
    return out
