"""Which file column feeds which feedback field: explicit mapping, the field's own name, or an alias.

Pure: takes the column names a reader found and returns a :class:`ColumnPlan` (the mapping used,
for the CLI to print, plus warnings), or one file-level :class:`InputError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from feedback_miner.errors import InputError

__all__ = ["ALIASES", "FIELDS", "ColumnMapping", "ColumnPlan", "plan_columns"]

#: Canonical field names; a mapping renames file columns onto these.
FIELDS: tuple[str, ...] = (
    "text", "external_id", "source", "created_at", "channel", "segment", "customer_id", "rating",
    "nps", "ces", "satisfaction", "device", "browser", "app_version", "ticket_status", "opened_at",
    "first_response_at", "resolved_at", "first_contact_resolution", "escalated", "category", "role",
    "handle_minutes",
)
#: Column names recognised without a mapping (compared lower-case, spaces and dashes as ``_``).
ALIASES: dict[str, tuple[str, ...]] = {
    "external_id": ("id", "ticket_id", "feedback_id", "response_id", "review_id", "comment_id", "case_id",
                    "issue_id", "ticket_number"),
    "created_at": ("created", "created_on", "date", "timestamp", "time", "datetime", "submitted_at",
                   "created_date", "review_date"),
    "text": ("comment", "comments", "body", "message", "description", "feedback", "review", "content",
             "verbatim"),
    "customer_id": ("user_id", "client_id", "requester_id", "account_id"),
    "rating": ("stars", "star_rating"),
    "nps": ("nps_score",),
    "ticket_status": ("status",),
    "resolved_at": ("solved_at", "closed_at"),
    "app_version": ("version",),
    "device": ("device_type",),
    "role": ("customer_role", "user_role", "user_type", "customer_type", "buyer_or_seller"),
    "handle_minutes": ("handle_time", "handle_time_minutes", "aht", "handling_time", "talk_time"),
}

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


@dataclass(frozen=True)
class ColumnPlan:
    """The mapping a file is read with, which column each field came from, and warnings."""

    mapping: ColumnMapping
    used: dict[str, str]
    warnings: tuple[str, ...] = ()

    def describe(self) -> str:
        return ", ".join(f"{f} ← {c!r}" for f, c in self.used.items())


def _norm(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def plan_columns(columns: Sequence[str], explicit: Mapping[str, str] | None = None) -> ColumnPlan:
    """Resolve the column of each field: explicit mapping, else the field's own name, else an alias.

    Raises one file-level :class:`InputError` when a mapped column is absent (naming it and the
    columns present) or when no column holds the text or the time.
    """
    explicit = dict(explicit or {})
    ColumnMapping(explicit)  # validates the field names
    present = list(columns)
    listing = ", ".join(repr(c) for c in present) or "(none)"
    missing = [(f, c) for f, c in explicit.items() if c not in present]
    if missing:
        what = "; ".join(f"column {c!r} (mapped to {f})" for f, c in missing)
        raise InputError(f"{what} not in the file; columns present: {listing}")
    by_norm: dict[str, str] = {}
    for c in present:
        by_norm.setdefault(_norm(c), c)
    used: dict[str, str] = {}
    taken = set(explicit.values())
    for f in FIELDS:
        if f in explicit:
            used[f] = explicit[f]
            continue
        for cand in (f, *ALIASES.get(f, ())):
            col = by_norm.get(cand)
            if col is not None and col not in taken:
                used[f], taken = col, taken | {col}
                break
    if "text" not in used:
        raise InputError(f"no text column: map one with --column text=COLUMN; columns present: {listing}")
    if "created_at" not in used and "opened_at" not in used:
        raise InputError(f"no time column (created_at or opened_at): map one with --column created_at=COLUMN; "
                         f"columns present: {listing}")
    warnings = []
    if "external_id" not in used:
        warnings.append("no id column: each row gets an id derived from its text, time and customer, so "
                        "idempotency rests on content (an edited text is stored as a new row); map one with "
                        "--column external_id=COLUMN")
    return ColumnPlan(ColumnMapping(used), used, tuple(warnings))
