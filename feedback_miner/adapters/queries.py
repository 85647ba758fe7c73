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

__all__ = [
    "active_centroids",
    "api_key_by_id",
    "feedback_count_in_week",
    "list_problems",
    "newest_week",
    "problem_detail",
    "recent_runs",
    "review_filters",
    "review_overview",
]

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
            select(fb.c.id, fb.c.text, fb.c.source, fb.c.external_id, fb.c.created_at,
                   *[fb.c[f] for f in _BREAKDOWN_FIELDS])
            .select_from(pm.join(fb, fb.c.id == pm.c.feedback_id))
            .where(pm.c.problem_id == problem_id).order_by(fb.c.created_at.desc())).mappings().all()
        latest = weeks[-1] if weeks else None
        everyone = c.execute(select(*[fb.c[f] for f in _BREAKDOWN_FIELDS]).where(
            fb.c.week.in_([w["week"] for w in weeks[-6:]]))).mappings().all() if weeks else []
    breakdowns = {f: dict(Counter(str(m[f]) for m in members if m[f] is not None).most_common(10))
                  for f in _BREAKDOWN_FIELDS}
    baselines: dict[str, dict[str, float]] = {}
    for f, counts in breakdowns.items():
        known = [str(r[f]) for r in everyone if r[f] is not None]
        if counts and known:
            allc = Counter(known)
            baselines[f] = {k: round(allc.get(k, 0) / len(known), 4) for k in counts}
    detail = json.loads(latest["detail"] or "{}") if latest else {}
    return {
        "id": row["id"], "category": row["category"], "title": row["title"],
        "keywords": json.loads(row["keywords"] or "[]"), "first_week": row["first_week"],
        "last_week": row["last_week"], "merged_into": row["merged_into"], "fixed_week": row["fixed_week"],
        "status": latest["status"] if latest else None,
        "severity": latest["severity"] if latest else None, "priority": latest["priority"] if latest else None,
        "weekly_counts": {w["week"]: int(w["count"]) for w in weeks},
        "trend": detail.get("trend"),
        "severity_terms": detail.get("severity_terms", []), "satisfaction": detail.get("satisfaction") or {},
        "error_codes": detail.get("error_codes", []),
        "member_count": len(members),
        "members": [{"id": int(m["id"]), "text": m["text"], "source": m["source"], "external_id": m["external_id"],
                     "created_at": m["created_at"].isoformat() if m["created_at"] else None}
                    for m in members[:quotes]],
        "tickets": [{"source": m["source"], "external_id": m["external_id"]} for m in members[:200]],
        "breakdowns": {k: v for k, v in breakdowns.items() if v},
        "baselines": baselines,
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


# -- review loop and pages (read side) -------------------------------------------------------------

def newest_week(store: Store) -> str | None:
    """The newest ISO week holding feedback, if any."""
    with store.tx() as c:
        return c.execute(select(func.max(t.feedback.c.week))).scalar_one_or_none()


def review_overview(store: Store, *, week: str | None = None, category: str | None = None,
                    source: str | None = None, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """One page of the review queue for ``week`` (default: the newest) with that week's progress."""
    from feedback_miner.adapters.review_store import review_progress, review_queue

    week = week or newest_week(store)
    if week is None:
        return {"week": None, "limit": limit, "offset": offset, "items": [],
                "progress": {"total": 0, "confirmed": 0, "left": 0}}
    rows = review_queue(store, week=week, category=category, source=source, limit=limit, offset=offset)
    items = [{"id": int(r["id"]), "text": r["text"], "week": r["week"], "source": r["source"],
              "created_at": r["created_at"], "predicted_category": r["category"],
              "confidence": round(float(r["confidence"]), 4), "secondary_category": r["secondary_category"],
              "problem_id": r["problem_id"], "problem_title": r["title"], "urgency": r["urgency"]} for r in rows]
    return {"week": week, "limit": limit, "offset": offset, "items": items, "progress": review_progress(store, week)}


def review_filters(store: Store, *, weeks: int = 26) -> dict[str, list[str]]:
    """The choices of the review page's filters: recent weeks (newest first) and sources."""
    f = t.feedback
    with store.tx() as c:
        ws = [r[0] for r in c.execute(select(f.c.week).distinct().order_by(f.c.week.desc()).limit(weeks))]
        srcs = [r[0] for r in c.execute(select(f.c.source).distinct().order_by(f.c.source).limit(100))]
    return {"weeks": ws, "sources": srcs}


def api_key_by_id(store: Store, key_id: int) -> dict[str, Any] | None:
    """A key's id, name, role and revoked flag (never its hash), or None — for page sessions."""
    k = t.api_keys
    with store.tx() as c:
        row = c.execute(select(k.c.id, k.c.name, k.c.role, k.c.revoked).where(k.c.id == key_id)).mappings().first()
    return None if row is None else {**dict(row), "revoked": bool(row["revoked"])}
