"""The follow-up survey list of a problem: one row per customer who reported it.

The support plan asks, once a problem is fixed, to survey the customers who reported it. The list
holds only what ingest stored: source, external id and customer id (already redacted or
pseudonymised where they held personal data; they are passed through :func:`domain.redact.redact`
once more on the way out, never un-redacted), the time of each report and the problem week it was
counted in. Reports of problems merged into this one are included.

A customer id that redaction reduced to a placeholder (``[EMAIL]`` …) identifies nobody, so such
reports, and reports without a customer id, each make their own row (one per ticket).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from feedback_miner.domain.redact import redact
from feedback_miner.domain.weeks import week_of

__all__ = ["CSV_COLUMNS", "FollowupList", "FollowupReader", "Reporter", "build_followup", "followup_list", "to_csv"]

_PLACEHOLDER = re.compile(r"\[[A-Z]+\]")
CSV_COLUMNS = ("customer_id", "source", "external_id", "first_reported_at", "last_reported_at", "reports",
               "problem_weeks", "tickets", "reports_after_fix")


class Problem(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def requested_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def fixed_week(self) -> str | None: ...
    @property
    def ids(self) -> tuple[str, ...]: ...


class Report(Protocol):
    @property
    def feedback_id(self) -> int: ...
    @property
    def source(self) -> str: ...
    @property
    def external_id(self) -> str: ...
    @property
    def customer_id(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def week(self) -> str: ...


class FollowupReader(Protocol):
    """Where the list is read from (``adapters.followup_store.SqlFollowupReader``)."""

    def problem(self, problem_id: str) -> Problem: ...

    def reports(self, problem_ids: tuple[str, ...]) -> Sequence[Report]: ...


@dataclass(frozen=True)
class Reporter:
    """One customer (or one ticket, when no usable customer id was stored)."""

    customer_id: str | None
    source: str  # of the latest report
    external_id: str  # the latest report's ticket
    first_reported_at: datetime
    last_reported_at: datetime
    reports: int
    problem_weeks: tuple[str, ...]
    tickets: tuple[str, ...]  # "source:external_id" of every report, oldest first
    reports_after_fix: int = 0  # reports made in weeks after the fix week

    def to_dict(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "source": self.source, "external_id": self.external_id,
                "first_reported_at": self.first_reported_at.isoformat(),
                "last_reported_at": self.last_reported_at.isoformat(), "reports": self.reports,
                "problem_weeks": list(self.problem_weeks), "tickets": list(self.tickets),
                "reports_after_fix": self.reports_after_fix}


@dataclass(frozen=True)
class FollowupList:
    problem_id: str
    requested_id: str
    title: str
    category: str
    fixed_week: str | None
    merged_ids: tuple[str, ...]
    reporters: tuple[Reporter, ...]

    @property
    def reports(self) -> int:
        return sum(r.reports for r in self.reporters)

    def to_dict(self) -> dict[str, Any]:
        return {"problem_id": self.problem_id, "requested_id": self.requested_id, "title": self.title,
                "category": self.category, "fixed_week": self.fixed_week, "merged_ids": list(self.merged_ids),
                "customers": len(self.reporters), "reports": self.reports,
                "reporters": [r.to_dict() for r in self.reporters]}


def _safe(v: str | None) -> str | None:
    return None if v is None else redact(v)


def _key(r: Report) -> tuple[str, ...]:
    cid = r.customer_id
    if cid and cid.strip() and not _PLACEHOLDER.search(cid):
        return ("customer", cid)
    return ("ticket", r.source, r.external_id)


def build_followup(problem: Problem, reports: Iterable[Report]) -> FollowupList:
    """Group the problem's reports per customer: earliest and latest report, count, weeks, tickets."""
    groups: dict[tuple[str, ...], dict[int, Report]] = {}
    weeks: dict[tuple[str, ...], set[str]] = {}
    after: dict[tuple[str, ...], set[int]] = {}
    for r in reports:
        k = _key(r)
        groups.setdefault(k, {}).setdefault(r.feedback_id, r)  # a text counted in two weeks is one report
        weeks.setdefault(k, set()).add(r.week)
        if problem.fixed_week and week_of(r.created_at) > problem.fixed_week:
            after.setdefault(k, set()).add(r.feedback_id)
    rows = []
    for k, by_id in groups.items():
        items = sorted(by_id.values(), key=lambda r: (r.created_at, r.feedback_id))
        last = items[-1]
        rows.append(Reporter(
            customer_id=_safe(k[1]) if k[0] == "customer" else _safe(items[0].customer_id),
            source=redact(last.source), external_id=redact(last.external_id),
            first_reported_at=items[0].created_at, last_reported_at=last.created_at, reports=len(items),
            problem_weeks=tuple(sorted(weeks[k])),
            tickets=tuple(dict.fromkeys(f"{redact(r.source)}:{redact(r.external_id)}" for r in items)),
            reports_after_fix=len(after.get(k, ()))))
    rows.sort(key=lambda r: (r.first_reported_at, r.customer_id or "", r.external_id))
    return FollowupList(problem_id=problem.id, requested_id=problem.requested_id, title=problem.title,
                        category=problem.category, fixed_week=problem.fixed_week,
                        merged_ids=tuple(i for i in problem.ids if i != problem.id), reporters=tuple(rows))


def followup_list(reader: FollowupReader, problem_id: str) -> FollowupList:
    """The follow-up list of ``problem_id`` (merge redirects followed; NotFoundError when unknown)."""
    p = reader.problem(problem_id)
    return build_followup(p, reader.reports(p.ids))


def _cell(v: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    s = "" if v is None else str(v)
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


def to_csv(fl: FollowupList) -> str:
    """The list as CSV (one row per customer), header :data:`CSV_COLUMNS`."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in fl.reporters:
        w.writerow([_cell(x) for x in (r.customer_id, r.source, r.external_id, r.first_reported_at.isoformat(),
                                       r.last_reported_at.isoformat(), r.reports, ";".join(r.problem_weeks),
                                       ";".join(r.tickets), r.reports_after_fix)])
    return buf.getvalue()
