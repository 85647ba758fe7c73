"""Problem-registry actions on the store: mark fixed, rename (the name sticks), follow merges."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from feedback_miner.adapters import tables as t
from feedback_miner.adapters.store import Store
from feedback_miner.domain.redact import redact
from feedback_miner.domain.weeks import parse_week
from feedback_miner.errors import InputError, NotFoundError

__all__ = ["mark_fixed", "rename", "resolve_id"]


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
    parse_week(week)
    pid = resolve_id(store, problem_id)
    now = datetime.now(UTC)
    with store.tx() as c:
        c.execute(t.problems.update().where(t.problems.c.id == pid).values(fixed_week=week, fixed_at=now, fixed_by=by, fix_link=link))
        c.execute(t.problem_events.insert().values(problem_id=pid, kind="fixed", week=week,
                  detail=json.dumps({"by": by, "link": link}), created_at=now))
    return pid


def rename(store: Store, problem_id: str, title: str, *, by: str) -> str:
    """A lead's title, redacted like any text, that sticks across later runs."""
    title = redact(" ".join(title.split()))
    if not 3 <= len(title) <= 200:
        raise InputError("title must be 3–200 characters")
    pid = resolve_id(store, problem_id)
    now = datetime.now(UTC)
    with store.tx() as c:
        c.execute(t.problems.update().where(t.problems.c.id == pid).values(title=title, title_locked=True))
        c.execute(t.problem_events.insert().values(problem_id=pid, kind="rename", detail=json.dumps({"title": title, "by": by}),
                  created_at=now))
    return pid
