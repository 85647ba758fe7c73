"""Ingest: map raw rows onto feedback fields, validate, normalise and redact.

Pure: rows come in as ``(row_number, mapping)`` pairs from a reader adapter; out come
:class:`FeedbackItem` objects and one :class:`RowError` per bad row (reported, then skipped).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

from feedback_miner.domain.redact import redact
from feedback_miner.domain.types import CATEGORY_IDS, FeedbackItem
from feedback_miner.errors import InputError, RowError

__all__ = ["FIELDS", "ColumnMapping", "IngestReport", "parse_rows", "parse_time", "stable_external_id"]

#: Canonical field names; a mapping renames file columns onto these.
FIELDS: tuple[str, ...] = (
    "text", "external_id", "source", "created_at", "channel", "segment", "customer_id", "rating",
    "nps", "ces", "satisfaction", "device", "browser", "app_version", "ticket_status", "opened_at",
    "first_response_at", "resolved_at", "first_contact_resolution", "escalated", "category",
)
_TIME_FIELDS = ("created_at", "opened_at", "first_response_at", "resolved_at")
_RANGES = {"rating": (1, 5), "nps": (0, 10), "ces": (1, 7)}
_BOOL = {"true": True, "yes": True, "1": True, "y": True, "false": False, "no": False, "0": False, "n": False}
_STATUSES = {"new", "open", "pending", "hold", "on-hold", "solved", "resolved", "closed", "reopened"}
MAX_TEXT_CHARS = 20_000


@dataclass(frozen=True)
class ColumnMapping:
    """Canonical field → column name in the file. Unmapped fields use their own name."""

    columns: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.columns) - set(FIELDS))
        if unknown:
            raise InputError(
                f"column mapping names unknown field(s) {unknown}; allowed fields: {', '.join(FIELDS)}"
            )

    def column(self, name: str) -> str:
        return self.columns.get(name, name)


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

    def summary(self) -> str:
        return (
            f"{self.read} rows read: {self.stored} stored, {self.updated} updated, "
            f"{self.duplicates} duplicates skipped, {self.rejected} rejected"
        )


def parse_time(value: object, *, row: int, name: str) -> datetime:
    """Parse an ISO 8601 time (``Z`` or offset; naive = UTC) or epoch seconds into aware UTC."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if math.isnan(float(value)):
            raise RowError(row, name, "time is missing")
        dt = datetime.fromtimestamp(float(value), tz=timezone.utc)
    else:
        s = str(value).strip()
        try:
            dt = datetime.fromisoformat(s.replace(" UTC", "+00:00"))
        except ValueError:
            raise RowError(row, name, f"unparseable time {s[:40]!r} (expected ISO 8601, e.g. 2026-11-17T09:30:00Z)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def stable_external_id(text: str, created_at: datetime, customer_id: str | None) -> str:
    """A content-derived id for rows without one, so re-ingesting the same file adds nothing."""
    h = hashlib.sha256(f"{text}\x1f{created_at.isoformat()}\x1f{customer_id or ''}".encode()).hexdigest()
    return "sha256:" + h[:32]


def _blank(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _int_in(v: object, *, row: int, name: str) -> int:
    lo, hi = _RANGES[name]
    try:
        f = float(str(v).strip())
    except ValueError:
        raise RowError(row, name, f"{v!r} is not a number (allowed {lo}–{hi})") from None
    if not f.is_integer() or not lo <= f <= hi:
        raise RowError(row, name, f"{v!r} is out of range (allowed whole numbers {lo}–{hi})")
    return int(f)


def _bool(v: object, *, row: int, name: str) -> bool:
    if isinstance(v, bool):
        return v
    b = _BOOL.get(str(v).strip().lower())
    if b is None:
        raise RowError(row, name, f"{v!r} is not true/false")
    return b


def _text(v: object, row: int) -> str:
    if _blank(v):
        raise RowError(row, "text", "text is empty")
    s = str(v)
    if "\ufffd" in s or any(0xDC80 <= ord(c) <= 0xDCFF for c in s):
        raise RowError(row, "text", "broken encoding (text is not valid UTF-8)")
    s = " ".join(s.split())
    if not s:
        raise RowError(row, "text", "text is empty")
    return s[:MAX_TEXT_CHARS]


def parse_row(raw: Mapping[str, object], row: int, mapping: ColumnMapping, default_source: str) -> FeedbackItem:
    """Validate one raw row into a redacted :class:`FeedbackItem`; raise :class:`RowError`."""
    get = {f: raw.get(mapping.column(f)) for f in FIELDS}
    for f, v in get.items():
        if isinstance(v, str) and any(0xDC80 <= ord(c) <= 0xDCFF for c in v):
            raise RowError(row, f, "broken encoding (value is not valid UTF-8)")
    text = redact(_text(get["text"], row))
    created = parse_time(get["created_at"], row=row, name="created_at") if not _blank(get["created_at"]) else None
    times = {f: None if _blank(get[f]) else parse_time(get[f], row=row, name=f) for f in _TIME_FIELDS[1:]}
    if created is None:
        created = times["opened_at"]
    if created is None:
        raise RowError(row, "created_at", "time is missing (give created_at or opened_at)")
    ints = {f: None if _blank(get[f]) else _int_in(get[f], row=row, name=f) for f in _RANGES}
    bools = {f: None if _blank(get[f]) else _bool(get[f], row=row, name=f) for f in ("first_contact_resolution", "escalated")}
    strs = {
        f: None if _blank(get[f]) else " ".join(str(get[f]).split())[:200]
        for f in ("channel", "segment", "customer_id", "device", "browser", "app_version", "satisfaction", "ticket_status", "category")
    }
    for f in ("channel", "segment", "ticket_status", "satisfaction", "category"):
        if strs[f] is not None:
            strs[f] = str(strs[f]).lower()
    if strs["ticket_status"] is not None and strs["ticket_status"] not in _STATUSES:
        raise RowError(row, "ticket_status", f"{strs['ticket_status']!r} is not one of {sorted(_STATUSES)}")
    if strs["satisfaction"] is not None and strs["satisfaction"] not in ("good", "bad"):
        raise RowError(row, "satisfaction", f"{strs['satisfaction']!r} is not 'good' or 'bad'")
    if strs["category"] is not None and strs["category"] not in CATEGORY_IDS:
        raise RowError(row, "category", f"{strs['category']!r} is not one of {', '.join(CATEGORY_IDS)}")
    if strs["customer_id"] is not None:
        strs["customer_id"] = redact(str(strs["customer_id"]))
    source = default_source if _blank(get["source"]) else " ".join(str(get["source"]).split()).lower()
    ext = None if _blank(get["external_id"]) else str(get["external_id"]).strip()
    if ext is not None and ext.endswith(".0") and ext[:-2].isdigit():
        ext = ext[:-2]  # a numeric id read as float
    return FeedbackItem(
        text=text,
        source=source,
        external_id=ext or stable_external_id(text, created, strs["customer_id"]),
        created_at=created,
        channel=strs["channel"], segment=strs["segment"], customer_id=strs["customer_id"],
        rating=ints["rating"], nps=ints["nps"], ces=ints["ces"], satisfaction=strs["satisfaction"],
        device=strs["device"], browser=strs["browser"], app_version=strs["app_version"],
        ticket_status=strs["ticket_status"], opened_at=times["opened_at"],
        first_response_at=times["first_response_at"], resolved_at=times["resolved_at"],
        first_contact_resolution=bools["first_contact_resolution"], escalated=bools["escalated"],
        category=strs["category"],
    )


def parse_rows(
    rows: Iterable[tuple[int, Mapping[str, object]]],
    mapping: ColumnMapping,
    *,
    default_source: str,
    report: IngestReport,
) -> Iterator[FeedbackItem]:
    """Yield the good rows; record each bad one in ``report.errors`` and go on."""
    for row, raw in rows:
        report.read += 1
        try:
            if "__error__" in raw:
                raise RowError(row, None, str(raw["__error__"]))
            yield parse_row(raw, row, mapping, default_source)
        except RowError as err:
            report.errors.append(err)
