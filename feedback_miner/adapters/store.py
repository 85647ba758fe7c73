"""The SQL store (SQLAlchemy): feedback, embedding cache, predictions, problems, runs, digests.

SQLite file by default, PostgreSQL when configured. The schema is created and upgraded by Alembic
migrations on open. SQLAlchemy errors are re-raised as :class:`StoreError`.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, RowMapping, create_engine, event, func, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from feedback_miner.adapters import tables as t
from feedback_miner.adapters.sql_results import SqlResults, SqlUnitOfWork
from feedback_miner.domain.ports import RunRecord
from feedback_miner.domain.types import FeedbackItem
from feedback_miner.domain.weeks import week_of
from feedback_miner.errors import ConflictError, StoreError
from feedback_miner.stages.embed import text_hash

__all__ = ["DEFAULT_STALE_S", "Store", "open_store"]

#: A running run whose heartbeat is older than this is dead (the run beats every few seconds).
DEFAULT_STALE_S = 120.0

_ITEM_FIELDS = [f.name for f in fields(FeedbackItem) if f.name not in ("id", "category")]


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(v: Any) -> Any:
    if isinstance(v, datetime) and v.tzinfo is None:
        return v.replace(tzinfo=UTC)
    return v


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Serialise schema creation/upgrade across processes: a file lock beside a SQLite file; on
    PostgreSQL the upgrade itself takes a transaction-level advisory lock (see :func:`migrate`)."""
    db = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if not db or db == ":memory:":
        yield
        return
    import fcntl

    with open(f"{db}.migrate-lock", "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def migrate(engine: Engine) -> None:
    """Create or upgrade the schema to the newest revision; safe when many processes open at once."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with _migration_lock(engine), engine.begin() as conn:
        if engine.url.get_backend_name() == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7262011)"))  # any fixed key: one upgrade at a time
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_store(url: str) -> Store:
    """Open (and create or upgrade) the store at a SQLAlchemy URL."""
    try:
        kw: dict[str, Any] = {"future": True, "pool_pre_ping": True}
        if url.startswith("sqlite"):
            kw["connect_args"] = {"check_same_thread": False, "timeout": 30}
        engine = create_engine(url, **kw)
        if url.startswith("sqlite"):
            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn: Any, _: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()
        migrate(engine)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open the store at {url.split('@')[-1]}: {exc}") from exc
    return Store(engine)


class Store(SqlResults):
    """The SQL implementation of the store port (:class:`feedback_miner.domain.ports.FeedbackStore`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        super().__init__(self.tx)

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"store operation failed: {exc.__class__.__name__}: {exc}") from exc

    def ping(self) -> bool:
        with self.tx() as c:
            c.execute(select(1))
        return True

    # -- feedback ------------------------------------------------------------------------------
    def upsert_feedback(self, item: FeedbackItem, *, event_at: datetime | None = None) -> tuple[int, str]:
        """Store one item; returns (id, "stored" | "duplicate" | "updated" | "stale").

        The same (source, external_id) again adds nothing; if ticket fields changed (e.g. the ticket
        was resolved) the stored row is updated. ``event_at`` is the ticket's own last-updated time
        (webhooks): an event older than the last one applied to the ticket changes nothing ("stale").
        """
        values = {k: getattr(item, k) for k in _ITEM_FIELDS}
        values.update(text_hash=text_hash(item.text), week=week_of(item.created_at), given_category=item.category)
        event_at = event_at.astimezone(UTC) if event_at is not None else None
        if event_at is not None:
            values["source_updated_at"] = event_at
        with self.tx() as c:
            row = c.execute(
                select(t.feedback).where(t.feedback.c.source == item.source, t.feedback.c.external_id == item.external_id)
            ).mappings().first()
            if row is None:
                try:
                    with c.begin_nested():
                        res = c.execute(t.feedback.insert().values(**values, ingested_at=_now(), updated_at=_now()))
                    key = res.inserted_primary_key
                    assert key is not None  # an INSERT always has one
                    return int(key[0]), "stored"
                except IntegrityError:
                    row = c.execute(
                        select(t.feedback).where(t.feedback.c.source == item.source,
                                                 t.feedback.c.external_id == item.external_id)
                    ).mappings().one()
            changed = {k: v for k, v in values.items() if v is not None and _aware(row[k]) != v
                       and k in ("ticket_status", "resolved_at", "first_response_at", "rating", "nps", "ces",
                                 "satisfaction", "first_contact_resolution", "escalated", "handle_minutes")}
            if event_at is not None:
                seen, col = _aware(row["source_updated_at"]), t.feedback.c.source_updated_at
                if seen is not None and event_at < seen:
                    return int(row["id"]), "stale"
                guard = (t.feedback.c.id == row["id"]) & (col.is_(None) | (col <= event_at))
                extra = {"updated_at": _now()} if changed else {}
                done = c.execute(t.feedback.update().where(guard).values(**changed, **extra, source_updated_at=event_at))
                if done.rowcount == 0:  # a newer event for this ticket was applied meanwhile
                    return int(row["id"]), "stale"
                return int(row["id"]), "updated" if changed else "duplicate"
            if changed:
                c.execute(t.feedback.update().where(t.feedback.c.id == row["id"]).values(**changed, updated_at=_now()))
                return int(row["id"]), "updated"
            return int(row["id"]), "duplicate"

    def _item(self, r: Mapping[str, Any] | RowMapping) -> FeedbackItem:
        kw = {k: _aware(r[k]) for k in _ITEM_FIELDS}
        cat = r.get("confirmed_category") or r.get("given_category")
        return FeedbackItem(**kw, id=int(r["id"]), category=cat)

    def feedback_in_weeks(self, weeks: Sequence[str]) -> list[FeedbackItem]:
        with self.tx() as c:
            rows = c.execute(select(t.feedback).where(t.feedback.c.week.in_(list(weeks))).order_by(t.feedback.c.id)).mappings()
            return [self._item(r) for r in rows]

    def feedback_between(self, start: datetime, end: datetime) -> list[FeedbackItem]:
        with self.tx() as c:
            rows = c.execute(select(t.feedback).where(t.feedback.c.created_at >= start, t.feedback.c.created_at < end)
                             .order_by(t.feedback.c.id)).mappings()
            return [self._item(r) for r in rows]

    def week_totals(self) -> dict[str, int]:
        with self.tx() as c:
            return {w: int(n) for w, n in c.execute(select(t.feedback.c.week, func.count()).group_by(t.feedback.c.week))}

    def count_feedback(self) -> int:
        with self.tx() as c:
            return int(c.execute(select(func.count()).select_from(t.feedback)).scalar_one())

    # -- embeddings (EmbeddingCache protocol) -------------------------------------------------
    def get_vectors(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        with self.tx() as c:
            for i in range(0, len(hashes), 500):
                q = select(t.embeddings.c.text_hash, t.embeddings.c.vector).where(
                    t.embeddings.c.model_id == model_id, t.embeddings.c.text_hash.in_(list(hashes[i : i + 500])))
                for h, v in c.execute(q):
                    out[h] = np.frombuffer(v, dtype=np.float32)
        return out

    def put_vectors(self, model_id: str, vectors: Mapping[str, np.ndarray]) -> None:
        if not vectors:
            return
        have = self.get_vectors(model_id, list(vectors))
        rows = [{"model_id": model_id, "text_hash": h, "vector": np.asarray(v, np.float32).tobytes()}
                for h, v in vectors.items() if h not in have]
        if rows:
            with self.tx() as c:
                c.execute(t.embeddings.insert(), rows)

    # -- predictions and earlier results ----------------------------------------------------
    def predicted_categories(self, ids: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        with self.tx() as c:
            for i in range(0, len(ids), 500):
                q = select(t.predictions.c.feedback_id, t.predictions.c.category).where(
                    t.predictions.c.feedback_id.in_(list(ids[i : i + 500])))
                out.update({int(f): str(cat) for f, cat in c.execute(q)})
        return out

    def joined_members(self, weeks: Sequence[str]) -> set[tuple[str, int]]:
        pm = t.problem_members
        with self.tx() as c:
            return {(str(w), int(f)) for w, f in c.execute(
                select(pm.c.week, pm.c.feedback_id).where(pm.c.week.in_(list(weeks))))}

    def weeks_with_results(self, weeks: Sequence[str]) -> set[str]:
        pw = t.problem_weeks
        with self.tx() as c:
            return {str(w) for (w,) in c.execute(select(pw.c.week).where(pw.c.week.in_(list(weeks))).distinct())}

    # -- runs: a lease with owner and heartbeat -----------------------------------------------
    def claim_run(self, week: str, *, owner: str, stale_after_s: float = DEFAULT_STALE_S) -> int:
        """Start a run unless a live one holds the lease; a dead one is marked abandoned and taken over.

        A run is dead when its heartbeat is older than ``stale_after_s`` or when its owner is a process
        of this host that no longer exists. Claims are serialised: PostgreSQL takes a transaction-level
        advisory lock first; SQLite's single writer lock is held from the first write of the claim's
        transaction (the takeover update) to its commit.
        """
        with self.tx() as c:
            if self.engine.url.get_backend_name() == "postgresql":
                c.execute(text("SELECT pg_advisory_xact_lock(7262012)"))
            else:  # take SQLite's write lock now, so the check below sees every committed claim
                c.execute(t.runs.update().where(t.runs.c.id == -1).values(status="running"))  # matches no row
            live = None
            for r in c.execute(select(t.runs).where(t.runs.c.status == "running").order_by(t.runs.c.id)).mappings().all():
                if _alive(r, stale_after_s):
                    live = live or r
                    continue
                c.execute(t.runs.update().where(t.runs.c.id == r["id"]).values(
                    status="abandoned", finished_at=_now(),
                    error=f"taken over by {owner}: its owner {r['owner'] or '?'} stopped without finishing"))
            if live is not None:
                raise ConflictError(f"a run is already in progress (run {live['id']} for {live['week']}, owner "
                                    f"{live['owner']}); wait for it to finish")
            now = _now()
            key = c.execute(t.runs.insert().values(week=week, status="running", started_at=now, stats="{}",
                                                   owner=owner, heartbeat_at=now)).inserted_primary_key
            assert key is not None  # an INSERT always has one
            return int(key[0])

    def heartbeat(self, run_id: int) -> None:
        with self.tx() as c:
            c.execute(t.runs.update().where(t.runs.c.id == run_id).values(heartbeat_at=_now()))

    def running_run(self, stale_after_s: float = DEFAULT_STALE_S) -> RunRecord | None:
        """The live run holding the lease (lowest id among live running runs), if any."""
        with self.tx() as c:
            rows = c.execute(select(t.runs).where(t.runs.c.status == "running").order_by(t.runs.c.id)).mappings().all()
        for r in rows:
            if _alive(r, stale_after_s):
                return _run_record(r)
        return None

    def finish_run(self, run_id: int, status: str, *, stats: Mapping[str, Any] | None = None,
                   error: str | None = None) -> None:
        with self.tx() as c:
            c.execute(t.runs.update().where(t.runs.c.id == run_id).values(
                status=status, finished_at=_now(), error=error, stats=json.dumps(dict(stats or {}))))

    # -- digests and the unit of work ---------------------------------------------------------
    @contextmanager
    def unit_of_work(self) -> Iterator[SqlUnitOfWork]:
        """One transaction for everything a run writes: committed at the end, rolled back on error."""
        with self.tx() as c:
            yield SqlUnitOfWork(c)

    def save_digest(self, period: str, body: Mapping[str, Any], run_id: int | None) -> None:
        with self.unit_of_work() as uow:
            uow.save_digest(period, body, run_id)

    def get_digest(self, period: str) -> dict[str, Any] | None:
        with self.tx() as c:
            body = c.execute(select(t.digests.c.body).where(t.digests.c.period == period)).scalar_one_or_none()
        return None if body is None else dict(json.loads(body))

    def digest_periods(self) -> list[str]:
        with self.tx() as c:
            return [r[0] for r in c.execute(select(t.digests.c.period).order_by(t.digests.c.period))]


def _pid_gone(owner: str | None) -> bool:
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _alive(r: Mapping[str, Any] | RowMapping, stale_after_s: float) -> bool:
    beat = _aware(r.get("heartbeat_at") or r["started_at"])
    if (_now() - beat).total_seconds() >= stale_after_s:
        return False
    return not _pid_gone(r.get("owner"))


def _run_record(r: Mapping[str, Any] | RowMapping) -> RunRecord:
    return RunRecord(id=int(r["id"]), week=r["week"], status=r["status"], started_at=_aware(r["started_at"]),
                     heartbeat_at=_aware(r["heartbeat_at"]), owner=r["owner"], finished_at=_aware(r["finished_at"]),
                     error=r["error"], stats=json.loads(r["stats"] or "{}"))
