"""Review loop on the store: the queue of uncertain items, confirm/correct with an audit trail,
and the confirmations a retrain learns from."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, select

from feedback_miner.adapters import tables as t
from feedback_miner.adapters.store import Store
from feedback_miner.domain.types import CATEGORY_IDS
from feedback_miner.errors import InputError, NotFoundError

__all__ = ["audit_trail", "confirm", "confirmations", "review_progress", "review_queue"]


def _check_category(name: str, value: str | None, *, optional: bool) -> None:
    if value is None and optional:
        return
    if value not in CATEGORY_IDS:
        raise InputError(f"{name} {value!r} is not one of {', '.join(CATEGORY_IDS)}")


def review_queue(
    store: Store, *, week: str | None = None, category: str | None = None, source: str | None = None,
    limit: int = 50, offset: int = 0, include_confirmed: bool = False,
) -> list[dict[str, Any]]:
    """Items least certain first, weighted by how much they matter.

    urgency = (1 − confidence) × (1 + problem priority / max priority in the week) × recency, where
    recency = 1 for the newest week in the store and halves every four weeks before it.
    """
    if category is not None:
        _check_category("category", category, optional=False)
    if not 1 <= limit <= 500:
        raise InputError(f"limit must be 1–500, got {limit}")
    f, p, m, pw, pr = t.feedback, t.predictions, t.problem_members, t.problem_weeks, t.problems
    q = (select(f.c.id, f.c.text, f.c.week, f.c.source, f.c.created_at, f.c.confirmed_category, f.c.confirmed_secondary,
                p.c.category, p.c.confidence, p.c.secondary_category, m.c.problem_id, pr.c.title, pw.c.priority)
         .join(p, p.c.feedback_id == f.c.id)
         .outerjoin(m, and_(m.c.feedback_id == f.c.id, m.c.week == f.c.week))
         .outerjoin(pr, pr.c.id == m.c.problem_id)
         .outerjoin(pw, and_(pw.c.problem_id == m.c.problem_id, pw.c.week == f.c.week)))
    if week:
        q = q.where(f.c.week == week)
    if category:
        q = q.where(func.coalesce(f.c.confirmed_category, p.c.category) == category)
    if source:
        q = q.where(f.c.source == source)
    if not include_confirmed:
        q = q.where(f.c.confirmed_category.is_(None))
    with store.tx() as c:
        rows = [dict(r) for r in c.execute(q).mappings()]
        newest = c.execute(select(func.max(f.c.week))).scalar_one_or_none()
    if not rows:
        return []
    top: dict[str, float] = {}
    for r in rows:
        top[r["week"]] = max(top.get(r["week"], 0.0), float(r["priority"] or 0.0))
    from feedback_miner.domain.weeks import week_bounds

    newest_start = week_bounds(newest)[0] if newest else None
    for r in rows:
        weight = 1.0 + (float(r["priority"] or 0.0) / top[r["week"]] if top[r["week"]] else 0.0)
        age_weeks = (newest_start - week_bounds(r["week"])[0]).days / 7 if newest_start else 0.0
        r["urgency"] = round((1.0 - float(r["confidence"])) * weight * 0.5 ** (age_weeks / 4), 5)
        r["created_at"] = r["created_at"].isoformat() if r["created_at"] else None
    rows.sort(key=lambda r: (-r["urgency"], r["id"]))
    return rows[offset : offset + limit]


def review_progress(store: Store, week: str) -> dict[str, int]:
    with store.tx() as c:
        total = c.execute(select(func.count()).select_from(t.feedback).where(t.feedback.c.week == week)).scalar_one()
        done = c.execute(select(func.count()).select_from(t.feedback).where(
            t.feedback.c.week == week, t.feedback.c.confirmed_category.is_not(None))).scalar_one()
    return {"total": int(total), "confirmed": int(done), "left": int(total) - int(done)}


def confirm(store: Store, feedback_id: int, *, category: str, reviewer: str, secondary: str | None = None) -> dict[str, Any]:
    """Set (confirm or correct) an item's category; the decision is audited (who, when, old, new)."""
    _check_category("category", category, optional=False)
    _check_category("secondary_category", secondary, optional=True)
    if secondary == category:
        secondary = None
    if not reviewer.strip():
        raise InputError("reviewer must not be empty")
    now = datetime.now(UTC)
    with store.tx() as c:
        row = c.execute(select(t.feedback.c.confirmed_category, t.feedback.c.confirmed_secondary, t.predictions.c.category,
                               t.predictions.c.secondary_category)
                        .outerjoin(t.predictions, t.predictions.c.feedback_id == t.feedback.c.id)
                        .where(t.feedback.c.id == feedback_id)).first()
        if row is None:
            raise NotFoundError(f"no feedback item {feedback_id}")
        old_cat = row[0] or row[2]
        old_sec = row[1] if row[0] else row[3]
        c.execute(t.feedback.update().where(t.feedback.c.id == feedback_id).values(
            confirmed_category=category, confirmed_secondary=secondary, updated_at=now))
        c.execute(t.reviews.insert().values(feedback_id=feedback_id, reviewer=reviewer, old_category=old_cat,
                                            new_category=category, old_secondary=old_sec, new_secondary=secondary,
                                            created_at=now))
    return {"id": feedback_id, "old_category": old_cat, "category": category, "secondary_category": secondary,
            "corrected": old_cat != category}


def confirmations(store: Store) -> list[tuple[str, str]]:
    """(text, confirmed category) of every confirmed item — the retrain's extra training data."""
    with store.tx() as c:
        return [(r[0], r[1]) for r in c.execute(select(t.feedback.c.text, t.feedback.c.confirmed_category)
                                                .where(t.feedback.c.confirmed_category.is_not(None))
                                                .order_by(t.feedback.c.id))]


def audit_trail(store: Store, feedback_id: int | None = None, limit: int = 200) -> list[dict[str, Any]]:
    q = select(t.reviews).order_by(t.reviews.c.id.desc()).limit(limit)
    if feedback_id is not None:
        q = q.where(t.reviews.c.feedback_id == feedback_id)
    with store.tx() as c:
        return [{**dict(r), "created_at": r["created_at"].isoformat()} for r in c.execute(q).mappings()]
