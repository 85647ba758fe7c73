"""Ingest: map raw rows onto feedback fields, validate, normalise and protect personal data.

Pure: rows come in as ``(row_number, mapping)`` pairs from a reader adapter; out come
:class:`FeedbackItem` objects and one :class:`RowError` per bad row (reported, then skipped).
:func:`parse_row` is the one normalisation of every path — files (``parse_rows``), API items
and webhooks — so NUL bytes, nested cells, length limits, times and the personal-data policy of
:mod:`feedback_miner.domain.pii_policy` are the same everywhere.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from feedback_miner.domain.format import plural
from feedback_miner.domain.pii_policy import (
    ID_FIELDS,
    LABEL_FIELDS,
    LIMITS,
    cell_text,
    check_length,
    protect_id,
    protect_label,
    shown,
)
from feedback_miner.domain.redact import redact
from feedback_miner.domain.types import CATEGORY_IDS, FeedbackItem
from feedback_miner.errors import RowError
from feedback_miner.stages.ingest_columns import ALIASES, FIELDS, ColumnMapping, ColumnPlan, plan_columns

__all__ = [
    "ALIASES",
    "FIELDS",
    "MAX_TEXT_CHARS",
    "ColumnMapping",
    "ColumnPlan",
    "IngestReport",
    "parse_row",
    "parse_rows",
    "parse_time",
    "plan_columns",
    "stable_external_id",
]

_TIME_FIELDS = ("created_at", "opened_at", "first_response_at", "resolved_at")
_RANGES = {"rating": (1, 5), "nps": (0, 10), "ces": (1, 7)}
_BOOL = {"true": True, "yes": True, "1": True, "y": True, "false": False, "no": False, "0": False, "n": False}
_STATUSES = {"new", "open", "pending", "hold", "on-hold", "solved", "resolved", "closed", "reopened"}
_EPOCH_MIN, _EPOCH_MAX = 946_684_800, 4_102_444_800  # 2000-01-01, 2100-01-01 (UTC)
MAX_TEXT_CHARS = LIMITS["text"]


@dataclass
class IngestReport:
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.errors)

    @property
    def accepted(self) -> int:
        return self.stored + self.updated + self.duplicates

    def summary(self) -> str:
        return (
            f"{plural(self.read, 'row')} read: {self.stored} stored, {self.updated} updated, "
            f"{self.duplicates} duplicates skipped, {self.rejected} rejected"
        )


def _epoch(value: float, *, row: int, name: str) -> datetime:
    if not math.isfinite(value):
        raise RowError(row, name, f"numeric time {value!r} is not a number")
    for seconds in (value, value / 1000):
        if _EPOCH_MIN <= seconds < _EPOCH_MAX:
            return datetime.fromtimestamp(seconds, tz=UTC)
    raise RowError(row, name, f"numeric time {value!r} is not epoch seconds or milliseconds between 2000 and 2100")


def parse_time(value: object, *, row: int, name: str) -> datetime:
    """Aware UTC from ISO 8601 (``Z`` or offset; naive = UTC), a datetime/date, or epoch seconds or
    milliseconds between 2000 and 2100 (numbers or digit strings); anything else is a RowError."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, bool):
        raise RowError(row, name, f"{value!r} is not a time")
    elif isinstance(value, (int, float)):
        dt = _epoch(float(value), row=row, name=name)
    else:
        s = str(value).strip()
        if len(s) >= 9 and s.replace(".", "", 1).isdigit():  # 8 digits are a compact date (20261110)
            return _epoch(float(s), row=row, name=name)
        try:
            dt = datetime.fromisoformat(s.replace(" UTC", "+00:00"))
        except ValueError:
            raise RowError(row, name, f"unparseable time {shown(s)} (expected ISO 8601, e.g. 2026-11-17T09:30:00Z, "
                                      "or epoch seconds)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def stable_external_id(text: str, created_at: datetime, customer_id: str | None) -> str:
    """A content-derived id for rows without one, so re-ingesting the same file adds nothing."""
    h = hashlib.sha256(f"{text}\x1f{created_at.isoformat()}\x1f{customer_id or ''}".encode()).hexdigest()
    return "sha256:" + h[:32]


def _int_in(v: str, *, row: int, name: str) -> int:
    lo, hi = _RANGES[name]
    try:
        f = float(v.strip())
    except ValueError:
        raise RowError(row, name, f"{shown(v)} is not a number (allowed {lo}–{hi})") from None
    if not f.is_integer() or not lo <= f <= hi:
        raise RowError(row, name, f"{shown(v)} is out of range (allowed whole numbers {lo}–{hi})")
    return int(f)


def _bool(v: str, *, row: int, name: str) -> bool:
    b = _BOOL.get(v.strip().lower())
    if b is None:
        raise RowError(row, name, f"{shown(v)} is not true/false")
    return b


def _squash(s: str) -> str:
    return " ".join(s.split())


def _choice(v: str | None, allowed: Iterable[str], *, row: int, name: str) -> str | None:
    if v is None:
        return None
    v = check_length(_squash(v).lower(), row=row, field=name)
    if v not in allowed:
        raise RowError(row, name, f"{shown(v)} is not one of {', '.join(sorted(allowed))}")
    return v


def parse_row(raw: Mapping[str, object], row: int, mapping: ColumnMapping, default_source: str, *,
              pseudonym_key: str | None = None) -> FeedbackItem:
    """Validate one raw row into a protected :class:`FeedbackItem`; raise :class:`RowError`.

    ``pseudonym_key`` (setting ``FM_PSEUDONYM_KEY``) replaces ids that hold personal data; without
    it such a row raises :class:`~feedback_miner.errors.ConfigError`.
    """
    cells = {f: cell_text(raw.get(mapping.column(f)), row=row, field=f) for f in FIELDS}
    if cells["text"] is None or not _squash(cells["text"]):
        raise RowError(row, "text", "text is empty")
    if "\ufffd" in cells["text"]:
        raise RowError(row, "text", "broken encoding (text is not valid UTF-8)")
    text = redact(check_length(_squash(cells["text"]), row=row, field="text"))
    times = {f: None if cells[f] is None else parse_time(_native(raw.get(mapping.column(f)), cells[f]), row=row, name=f)
             for f in _TIME_FIELDS}
    created = times["created_at"] or times["opened_at"]
    if created is None:
        raise RowError(row, "created_at", "time is missing (give created_at or opened_at)")
    ints = {f: None if cells[f] is None else _int_in(str(cells[f]), row=row, name=f) for f in _RANGES}
    bools = {f: None if cells[f] is None else _bool(str(cells[f]), row=row, name=f)
             for f in ("first_contact_resolution", "escalated")}
    labels: dict[str, str | None] = {}
    for f in LABEL_FIELDS:
        v = cells[f]
        if v is not None:
            v = check_length(_squash(v), row=row, field=f)
            v = protect_label(v.lower() if f in ("channel", "segment", "source") else v)
        labels[f] = v
    ids: dict[str, str | None] = {}
    for f in ID_FIELDS:
        v = cells[f]
        if v is not None:
            v = v.strip()
            if v.endswith(".0") and v[:-2].isdigit():
                v = v[:-2]  # a numeric id read as float
            v = protect_id(check_length(v, row=row, field=f), pseudonym_key, row=row, field=f)
        ids[f] = v
    return FeedbackItem(
        text=text,
        source=labels["source"] or default_source,
        external_id=ids["external_id"] or stable_external_id(text, created, ids["customer_id"]),
        created_at=created,
        channel=labels["channel"], segment=labels["segment"], customer_id=ids["customer_id"],
        rating=ints["rating"], nps=ints["nps"], ces=ints["ces"],
        satisfaction=_choice(cells["satisfaction"], ("good", "bad"), row=row, name="satisfaction"),
        device=labels["device"], browser=labels["browser"], app_version=labels["app_version"],
        ticket_status=_choice(cells["ticket_status"], _STATUSES, row=row, name="ticket_status"),
        opened_at=times["opened_at"], first_response_at=times["first_response_at"], resolved_at=times["resolved_at"],
        first_contact_resolution=bools["first_contact_resolution"], escalated=bools["escalated"],
        category=_choice(cells["category"], CATEGORY_IDS, row=row, name="category"),
        role=_choice(_role(cells["role"]), ("buyer", "seller"), row=row, name="role"),
        handle_minutes=None if cells["handle_minutes"] is None else _minutes(cells["handle_minutes"], row=row),
    )


_ROLE_WORDS = {"customer": "buyer", "shopper": "buyer", "purchaser": "buyer", "merchant": "seller", "vendor": "seller"}


def _role(v: str | None) -> str | None:
    """Buyer or seller: the support plan's messaging target holds for both, measured apart."""
    if v is None:
        return None
    w = v.strip().lower()
    return _ROLE_WORDS.get(w, w)


def _minutes(v: str, *, row: int) -> float:
    """Handle time in minutes: a number of minutes, or ``h:mm:ss`` / ``mm:ss``; 0 to 24 h."""
    s = v.strip()
    try:
        if ":" in s:
            parts = [float(p) for p in s.split(":")]
            if len(parts) > 3:
                raise ValueError(s)
            secs = 0.0
            for p in parts:
                secs = secs * 60 + p
            minutes = secs / 60
        else:
            minutes = float(s)
    except ValueError:
        raise RowError(row, "handle_minutes", f"{s[:40]!r} is not a handle time (minutes, or h:mm:ss)") from None
    if not 0 <= minutes <= 24 * 60 or minutes != minutes:
        raise RowError(row, "handle_minutes", f"{minutes:g} minutes is outside 0 to 1440")
    return round(minutes, 3)


def _native(value: object, text: str | None) -> object:
    """A time keeps its native type (a number is epoch, a datetime stays one); else its text."""
    return value if isinstance(value, (int, float, datetime, date)) else text


def parse_rows(
    rows: Iterable[tuple[int, Mapping[str, object]]],
    mapping: ColumnMapping,
    *,
    default_source: str,
    report: IngestReport,
    pseudonym_key: str | None = None,
) -> Iterator[FeedbackItem]:
    """Yield the good rows; record each bad one in ``report.errors`` and go on.

    Two rows with the same (source, external id) but different text are a conflict: the first is
    kept and the second reported, naming both row numbers.
    """
    seen: dict[bytes, tuple[int, bytes]] = {}  # digest of (source, id) -> first row, digest of its text
    for row, raw in rows:
        report.read += 1
        try:
            if "__error__" in raw:
                raise RowError(row, None, str(raw["__error__"]))
            item = parse_row(raw, row, mapping, default_source, pseudonym_key=pseudonym_key)
            key = hashlib.blake2b(f"{item.source}\x1f{item.external_id}".encode(), digest_size=16).digest()
            digest = hashlib.blake2b(item.text.encode(), digest_size=8).digest()
            first = seen.setdefault(key, (row, digest))
            if first[1] != digest:
                raise RowError(row, "external_id", f"conflicts with row {first[0]}: the same external id "
                                                   f"{shown(item.external_id)} with a different text (row {row} skipped)")
            yield item
        except RowError as err:
            report.errors.append(err)
