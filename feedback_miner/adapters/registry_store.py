"""Problem-registry actions on the store: mark fixed, rename (the name sticks), fix watch."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, select

from feedback_miner.adapters import tables as t
from feedback_miner.adapters.store import Store
from feedback_miner.domain.trends import assess_trend
from feedback_miner.domain.weeks import parse_week, shift_week, weeks_between
from feedback_miner.errors import InputError, NotFoundError

__all__ = ["resolve_id", "mark_fixed", "rename", "fix_watch", "fix_watch_in"]


def resolve_id(store: Store, problem_id: str) -> str:
    """Follow merge redirects to the surviving problem id."""
    seen = set()
    with store.tx() as c:
        while True:
            row = c.execute(select(t.problems.c.id, t.problems.c.merged_into).where(t.problems.c.id == problem_id)).first()
            if row is None:
                raise NotFoundError(f"no problem {problem_id!r}")
            if not row[1] or row[1] in seen:
                return str(row[0])
            seen.add(problem_id)
            problem_id = row[1]


def mark_fixed(store: Store, problem_id: str, *, week: str, by: str, link: str | None = None) -> str:
    try:
        parse_week(week)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    pid = resolve_id(store, problem_id)
    now = datetime.now(timezone.utc)
    with store.tx() as c:
        c.execute(t.problems.update().where(t.problems.c.id == pid).values(fixed_week=week, fixed_at=now, fixed_by=by, fix_link=link))
        c.execute(t.problem_events.insert().values(problem_id=pid, kind="fixed", week=week,
                  detail=json.dumps({"by": by, "link": link}), created_at=now))
    return pid


def rename(store: Store, problem_id: str, title: str, *, by: str) -> str:
    title = " ".join(title.split())
    if not 3 <= len(title) <= 200:
        raise InputError("title must be 3–200 characters")
    pid = resolve_id(store, problem_id)
    now = datetime.now(timezone.utc)
    with store.tx() as c:
        c.execute(t.problems.update().where(t.problems.c.id == pid).values(title=title, title_locked=True))
        c.execute(t.problem_events.insert().values(problem_id=pid, kind="rename", detail=json.dumps({"title": title, "by": by}),
                  created_at=now))
    return pid


def _repeat_share(customer_ids: list[str]) -> float | None:
    """Share of customers who reported the problem more than once in the window (None: nobody)."""
    if not customer_ids:
        return None
    counts: dict[str, int] = {}
    for cid in customer_ids:
        counts[cid] = counts.get(cid, 0) + 1
    return round(sum(1 for n in counts.values() if n > 1) / len(counts), 4)


def fix_watch(store: Store, week: str, *, baseline_weeks: int = 6) -> list[dict[str, Any]]:
    """For every problem marked fixed: weekly counts since before the fix and its verdict this week."""
    with store.tx() as c:
        return fix_watch_in(c, week, baseline_weeks=baseline_weeks)


def fix_watch_in(c: Connection, week: str, *, baseline_weeks: int = 6) -> list[dict[str, Any]]:
    """:func:`fix_watch` inside an open transaction (the weekly run's, so it sees this week's counts)."""
    fixed = c.execute(select(t.problems).where(t.problems.c.fixed_week.is_not(None), t.problems.c.merged_into.is_(None))).mappings().all()
    out = []
    for p in fixed:
        if p["fixed_week"] > week:
            continue
        weeks = weeks_between(shift_week(p["fixed_week"], -baseline_weeks), week)
        rows = c.execute(select(t.problem_weeks.c.week, t.problem_weeks.c.count)
                         .where(t.problem_weeks.c.problem_id == p["id"], t.problem_weeks.c.week.in_(weeks))).all()
        counts = {w: 0 for w in weeks}
        counts.update({w: int(n) for w, n in rows})
        tr = assess_trend(counts, {}, week, baseline_weeks=baseline_weeks, fixed_at_week=p["fixed_week"])
        reporters = c.execute(
            select(t.problem_members.c.week, t.feedback.c.customer_id)
            .join(t.feedback, t.feedback.c.id == t.problem_members.c.feedback_id)
            .where(t.problem_members.c.problem_id == p["id"], t.problem_members.c.week.in_(weeks),
                   t.feedback.c.customer_id.is_not(None))).all()
        before = [cid for w, cid in reporters if w <= p["fixed_week"]]
        after = [cid for w, cid in reporters if w > p["fixed_week"]]
        verdict = ("resurfaced" if tr.status == "resurfaced" else
                   "fix holding" if tr.fix_holding else "watching")
        out.append({"id": p["id"], "title": p["title"], "category": p["category"], "fixed_week": p["fixed_week"],
                    "fixed_by": p["fixed_by"], "fix_link": p["fix_link"], "weekly_counts": counts,
                    "status": tr.status, "verdict": verdict, "trend": tr.statement,
                    "repeat_before_fix": _repeat_share(before), "repeat_after_fix": _repeat_share(after)})
    out.sort(key=lambda r: (r["verdict"] != "resurfaced", r["id"]))
    return out
