"""Run results in SQL: the registry, week figures and members, read and written for the services.

:class:`SqlResults` implements the port's ``ResultsReader`` over any connection provider; the
store uses one transaction per read, :class:`SqlUnitOfWork` one transaction for a whole run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, RowMapping, select

from feedback_miner.adapters import tables as t
from feedback_miner.domain.ports import PredictionRow, ProblemRecord, ProblemUpsert

__all__ = ["SqlResults", "SqlUnitOfWork", "record_from_row"]

_CHUNK = 500


def _now() -> datetime:
    return datetime.now(UTC)


def record_from_row(r: Mapping[str, Any] | RowMapping) -> ProblemRecord:
    return ProblemRecord(
        id=r["id"], category=r["category"], title=r["title"], centroid=np.frombuffer(r["centroid"], np.float32),
        first_week=r["first_week"], last_week=r["last_week"], title_locked=bool(r["title_locked"]),
        keywords=tuple(json.loads(r["keywords"] or "[]")), merged_into=r["merged_into"],
        fixed_week=r["fixed_week"], fixed_by=r["fixed_by"], fix_link=r["fix_link"])


class SqlResults:
    """``ResultsReader`` over a connection provider (a fresh transaction, or the run's own)."""

    def __init__(self, connect: Callable[[], AbstractContextManager[Connection]]) -> None:
        self._connect = connect

    def problem_records(self) -> list[ProblemRecord]:
        with self._connect() as c:
            return [record_from_row(r) for r in c.execute(select(t.problems).order_by(t.problems.c.id)).mappings()]

    def problem_counts(self, weeks: Sequence[str], problem_id: str | None = None) -> list[tuple[str, str, int]]:
        pw = t.problem_weeks
        q = select(pw.c.problem_id, pw.c.week, pw.c.count).where(pw.c.week.in_(list(weeks)))
        if problem_id is not None:
            q = q.where(pw.c.problem_id == problem_id)
        with self._connect() as c:
            return [(str(p), str(w), int(n)) for p, w, n in c.execute(q.order_by(pw.c.problem_id, pw.c.week))]

    def reporters(self, problem_id: str, weeks: Sequence[str]) -> list[tuple[str, str]]:
        pm, fb = t.problem_members, t.feedback
        q = (select(pm.c.week, fb.c.customer_id).join(fb, fb.c.id == pm.c.feedback_id)
             .where(pm.c.problem_id == problem_id, pm.c.week.in_(list(weeks)), fb.c.customer_id.is_not(None))
             .order_by(pm.c.week, fb.c.id))
        with self._connect() as c:
            return [(str(w), str(cid)) for w, cid in c.execute(q)]


class SqlUnitOfWork(SqlResults):
    """Everything one run writes, inside the one transaction it was opened with."""

    def __init__(self, conn: Connection) -> None:
        @contextmanager
        def same() -> Iterator[Connection]:
            yield conn

        super().__init__(same)
        self._c = conn

    def save_predictions(self, rows: Sequence[PredictionRow]) -> None:
        ids = [r.feedback_id for r in rows]
        for i in range(0, len(ids), _CHUNK):
            self._c.execute(t.predictions.delete().where(t.predictions.c.feedback_id.in_(ids[i : i + _CHUNK])))
        if rows:
            now = _now()
            self._c.execute(t.predictions.insert(), [
                {"feedback_id": r.feedback_id, "classifier_version": r.classifier_version, "category": r.category,
                 "confidence": r.confidence, "secondary_category": r.secondary_category, "predicted_at": now}
                for r in rows])

    def replace_week_problems(self, week: str, problems: Sequence[ProblemUpsert]) -> None:
        c, now = self._c, _now()
        c.execute(t.problem_members.delete().where(t.problem_members.c.week == week))
        c.execute(t.problem_weeks.delete().where(t.problem_weeks.c.week == week))
        for p in problems:
            cent = np.asarray(p.centroid, np.float32).tobytes()
            if p.is_new:
                c.execute(t.problems.insert().values(
                    id=p.id, category=p.category, title=p.title[:200], title_locked=False,
                    keywords=json.dumps(list(p.keywords)), centroid=cent, first_week=week, last_week=week,
                    created_at=now))
            else:
                last = c.execute(select(t.problems.c.last_week).where(t.problems.c.id == p.id)).scalar_one()
                c.execute(t.problems.update().where(t.problems.c.id == p.id).values(
                    keywords=json.dumps(list(p.keywords)), centroid=cent, last_week=max(week, last)))
            c.execute(t.problem_weeks.insert().values(
                problem_id=p.id, week=week, count=p.count, severity=p.severity, priority=p.priority,
                status=p.status, detail=json.dumps(dict(p.detail))))
            if p.member_ids:
                c.execute(t.problem_members.insert(),
                          [{"week": week, "feedback_id": m, "problem_id": p.id} for m in p.member_ids])

    def _event(self, problem_id: str, kind: str, week: str, detail: Mapping[str, Any]) -> None:
        self._c.execute(t.problem_events.insert().values(problem_id=problem_id, kind=kind, week=week,
                                                          detail=json.dumps(dict(detail)), created_at=_now()))

    def record_merge(self, absorbed: str, survivor: str, week: str) -> None:
        self._c.execute(t.problems.update().where(t.problems.c.id == absorbed).values(merged_into=survivor))
        self._event(absorbed, "merge", week, {"into": survivor})

    def record_split(self, problem_id: str, week: str) -> None:
        self._event(problem_id, "split", week, {})

    def save_digest(self, period: str, body: Mapping[str, Any], run_id: int | None) -> None:
        self._c.execute(t.digests.delete().where(t.digests.c.period == period))
        self._c.execute(t.digests.insert().values(period=period, body=json.dumps(body), run_id=run_id,
                                                  created_at=_now()))
