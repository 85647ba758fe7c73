"""Read-only queries behind the API: problems (list, detail), runs, centroids, week counts.

All SQL for the read endpoints lives here so routes stay free of it. Returns plain dicts.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np
from sqlalchemy import and_, func, select

from feedback_miner.adapters import tables as t
from feedback_miner.adapters.store import Store
from feedback_miner.errors import NotFoundError

__all__ = ["list_problems", "problem_detail", "active_centroids", "recent_runs", "feedback_count_in_week"]

_BREAKDOWN_FIELDS = ("channel", "device", "browser", "app_version", "segment", "ticket_status")


def _latest_weeks() -> Any:
    """Subquery: each problem's latest week in problem_weeks."""
    pw = t.problem_weeks
    return select(pw.c.problem_id, func.max(pw.c.week).label("week")).group_by(pw.c.problem_id).subquery()


def list_problems(store: Store, *, category: str | None = None, status: str | None = None,
                  week: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Problems (not merged) with their figures for ``week`` (default each one's latest week).

    Ordered by priority, highest first. Returns (page, total matching).
    """
    p, pw = t.problems, t.problem_weeks
    if week is not None:
        join_on = and_(pw.c.problem_id == p.c.id, pw.c.week == week)
    else:
        lw = _latest_weeks()
        join_on = and_(pw.c.problem_id == p.c.id, pw.c.week == select(lw.c.week).where(
            lw.c.problem_id == p.c.id).scalar_subquery())
    q = select(p.c.id, p.c.category, p.c.title, p.c.keywords, p.c.first_week, p.c.last_week, p.c.fixed_week,
               pw.c.week, pw.c.count, pw.c.severity, pw.c.priority, pw.c.status).select_from(
        p.join(pw, join_on)).where(p.c.merged_into.is_(None))
    if category:
        q = q.where(p.c.category == category)
    if status:
        q = q.where(pw.c.status == status)
    with store.tx() as c:
        total = int(c.execute(select(func.count()).select_from(q.subquery())).scalar_one())
        rows = c.execute(q.order_by(pw.c.priority.desc(), p.c.id).limit(limit).offset(offset)).mappings().all()
    return [{**dict(r), "keywords": json.loads(r["keywords"] or "[]")} for r in rows], total


def problem_detail(store: Store, problem_id: str, *, quotes: int = 10) -> dict[str, Any]:
    """One problem: its weeks, recent member quotes and breakdowns; :class:`NotFoundError` if unknown."""
    p, pw, pm, fb = t.problems, t.problem_weeks, t.problem_members, t.feedback
    with store.tx() as c:
        row = c.execute(select(p).where(p.c.id == problem_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"no problem with id {problem_id!r}")
        weeks = c.execute(select(pw).where(pw.c.problem_id == problem_id).order_by(pw.c.week)).mappings().all()
        members = c.execute(
            select(fb.c.id, fb.c.text, fb.c.source, fb.c.created_at, *[fb.c[f] for f in _BREAKDOWN_FIELDS])
            .select_from(pm.join(fb, fb.c.id == pm.c.feedback_id))
            .where(pm.c.problem_id == problem_id).order_by(fb.c.created_at.desc())).mappings().all()
    breakdowns = {f: dict(Counter(str(m[f]) for m in members if m[f] is not None).most_common(10))
                  for f in _BREAKDOWN_FIELDS}
    latest = weeks[-1] if weeks else None
    return {
        "id": row["id"], "category": row["category"], "title": row["title"],
        "keywords": json.loads(row["keywords"] or "[]"), "first_week": row["first_week"],
        "last_week": row["last_week"], "merged_into": row["merged_into"], "fixed_week": row["fixed_week"],
        "status": latest["status"] if latest else None,
        "severity": latest["severity"] if latest else None, "priority": latest["priority"] if latest else None,
        "weekly_counts": {w["week"]: int(w["count"]) for w in weeks},
        "trend": json.loads(latest["detail"] or "{}").get("trend") if latest else None,
        "member_count": len(members),
        "members": [{"id": int(m["id"]), "text": m["text"], "source": m["source"],
                     "created_at": m["created_at"].isoformat() if m["created_at"] else None}
                    for m in members[:quotes]],
        "breakdowns": {k: v for k, v in breakdowns.items() if v},
    }


def active_centroids(store: Store) -> list[tuple[str, str, str, np.ndarray]]:
    """(id, category, title, unit centroid) of every problem not merged into another."""
    p = t.problems
    with store.tx() as c:
        rows = c.execute(select(p.c.id, p.c.category, p.c.title, p.c.centroid)
                         .where(p.c.merged_into.is_(None))).all()
    out = []
    for pid, cat, title, blob in rows:
        v = np.frombuffer(blob, dtype=np.float32)
        n = float(np.linalg.norm(v))
        if n > 0:
            out.append((pid, cat, title, (v / n).astype(np.float32)))
    return out


def recent_runs(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    """The latest runs, newest first."""
    with store.tx() as c:
        rows = c.execute(select(t.runs).order_by(t.runs.c.id.desc()).limit(limit)).mappings().all()
    return [{**dict(r), "stats": json.loads(r["stats"] or "{}")} for r in rows]


def feedback_count_in_week(store: Store, week: str) -> int:
    """How many feedback items fall in an ISO week."""
    with store.tx() as c:
        return int(c.execute(select(func.count()).select_from(t.feedback).where(t.feedback.c.week == week))
                   .scalar_one())
