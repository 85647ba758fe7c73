"""The SQL behind the follow-up survey list: who reported a problem (and the problems merged into it).

Returns plain records; grouping per customer is :mod:`feedback_miner.services.followup`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from feedback_miner.adapters import tables as t
from feedback_miner.adapters.registry_store import resolve_id
from feedback_miner.adapters.store import Store

__all__ = ["ProblemRef", "ReportRecord", "SqlFollowupReader", "merged_family"]

_CHUNK = 500


@dataclass(frozen=True)
class ProblemRef:
    id: str  # the surviving id (merge redirects followed)
    requested_id: str
    title: str
    category: str
    fixed_week: str | None
    ids: tuple[str, ...]  # the survivor and every problem merged into it


@dataclass(frozen=True)
class ReportRecord:
    """One stored feedback item that was a member of the problem in one week."""

    feedback_id: int
    source: str
    external_id: str
    customer_id: str | None
    created_at: datetime
    week: str
    problem_id: str


def merged_family(redirects: dict[str, str | None], survivor: str) -> tuple[str, ...]:
    """``survivor`` and every id whose chain of ``merged_into`` redirects ends at it, the chain
    followed as :func:`registry_store.resolve_id` does (a cycle stops before revisiting an id)."""
    def end(pid: str) -> str:
        seen: set[str] = set()
        while (nxt := redirects.get(pid)) and nxt not in seen:
            seen.add(pid)
            pid = nxt
        return pid

    return (survivor, *sorted(p for p in redirects if p != survivor and end(p) == survivor))


def _aware(v: datetime) -> datetime:
    return v if v.tzinfo else v.replace(tzinfo=UTC)


class SqlFollowupReader:
    """Reads of the follow-up list over the SQL store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def problem(self, problem_id: str) -> ProblemRef:
        """The problem (merge redirects followed); :class:`NotFoundError` for an unknown id."""
        pid = resolve_id(self.store, problem_id)
        p = t.problems
        with self.store.tx() as c:
            row = c.execute(select(p.c.title, p.c.category, p.c.fixed_week).where(p.c.id == pid)).one()
            redirects = {str(i): m for i, m in c.execute(select(p.c.id, p.c.merged_into).where(
                p.c.merged_into.is_not(None)))}
        return ProblemRef(id=pid, requested_id=problem_id, title=str(row[0]), category=str(row[1]),
                          fixed_week=row[2], ids=merged_family(redirects, pid))

    def reports(self, problem_ids: tuple[str, ...]) -> list[ReportRecord]:
        """Every member of these problems in any week, with its feedback's ids and time."""
        pm, fb = t.problem_members, t.feedback
        out: list[ReportRecord] = []
        with self.store.tx() as c:
            for i in range(0, len(problem_ids), _CHUNK):
                q = (select(fb.c.id, fb.c.source, fb.c.external_id, fb.c.customer_id, fb.c.created_at,
                            pm.c.week, pm.c.problem_id)
                     .join(fb, fb.c.id == pm.c.feedback_id)
                     .where(pm.c.problem_id.in_(list(problem_ids[i : i + _CHUNK])))
                     .order_by(fb.c.created_at, fb.c.id, pm.c.week))
                out += [ReportRecord(int(r[0]), str(r[1]), str(r[2]), r[3], _aware(r[4]), str(r[5]), str(r[6]))
                        for r in c.execute(q)]
        return out
