"""Secrets every server process must agree on, generated once and kept in the store.

Several API workers (``feedback-miner serve --workers N``) are separate processes: a secret drawn
at random in each would differ between them (a page session signed by one worker would be refused
by the next). :func:`shared_secret` returns the store's secret of that name, creating it on first
use; when two processes create it at once, the primary key lets one insert win and both read it.
A secret configured in the environment (e.g. ``FM_SESSION_SECRET``) is preferred by the callers,
so it need not sit in the database or its backups.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from feedback_miner.adapters import tables as t
from feedback_miner.adapters.store import Store
from feedback_miner.errors import InputError

__all__ = ["shared_secret"]


def shared_secret(store: Store, name: str, *, nbytes: int = 32) -> bytes:
    """The store's secret called ``name`` (``nbytes`` random bytes, made on first use), the same in
    every process that asks."""
    if not name or len(name) > 64 or not 16 <= nbytes <= 96:
        raise InputError(f"secret name must be 1-64 characters and 16-96 bytes long, got {name!r}, {nbytes}")
    s = t.app_secrets
    with store.tx() as c:
        found = c.execute(select(s.c.value).where(s.c.name == name)).scalar()
        if found is None:
            try:
                with c.begin_nested():
                    c.execute(s.insert().values(name=name, value=secrets.token_hex(nbytes),
                                                created_at=datetime.now(UTC)))
            except IntegrityError:  # another process created it meanwhile: read theirs
                pass
            found = c.execute(select(s.c.value).where(s.c.name == name)).scalar_one()
    return bytes.fromhex(str(found))
