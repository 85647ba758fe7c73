"""The SQL store (SQLAlchemy): feedback, embedding cache, predictions, problems, runs, digests.

SQLite file by default, PostgreSQL when configured. The schema is created and upgraded by Alembic
migrations on open. SQLAlchemy errors are re-raised as :class:`StoreError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, create_engine, event, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from feedback_miner.adapters import tables as t
from feedback_miner.domain.types import FeedbackItem
from feedback_miner.domain.weeks import week_of
from feedback_miner.errors import StoreError
from feedback_miner.stages.embed import text_hash

__all__ = ["Store", "open_store"]

_ITEM_FIELDS = [f.name for f in fields(FeedbackItem) if f.name not in ("id", "category")]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(v: Any) -> Any:
    if isinstance(v, datetime) and v.tzinfo is None:
        return v.replace(tzinfo=timezone.utc)
    return v


def migrate(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
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


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

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
        event_at = event_at.astimezone(timezone.utc) if event_at is not None else None
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
                    return int(res.inserted_primary_key[0]), "stored"
                except IntegrityError:
                    row = c.execute(
                        select(t.feedback).where(t.feedback.c.source == item.source,
                                                 t.feedback.c.external_id == item.external_id)
                    ).mappings().one()
            changed = {k: v for k, v in values.items() if v is not None and _aware(row[k]) != v
                       and k in ("ticket_status", "resolved_at", "first_response_at", "rating", "nps", "ces",
                                 "satisfaction", "first_contact_resolution", "escalated")}
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

    def _item(self, r: Mapping[str, Any]) -> FeedbackItem:
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

    # -- predictions --------------------------------------------------------------------------
    def save_predictions(self, c: Connection, rows: Iterable[Mapping[str, Any]]) -> None:
        rows = list(rows)
        ids = [r["feedback_id"] for r in rows]
        for i in range(0, len(ids), 500):
            c.execute(t.predictions.delete().where(t.predictions.c.feedback_id.in_(ids[i : i + 500])))
        if rows:
            c.execute(t.predictions.insert(), [{**r, "predicted_at": _now()} for r in rows])

    def predictions_for(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        with self.tx() as c:
            for i in range(0, len(ids), 500):
                q = select(t.predictions).where(t.predictions.c.feedback_id.in_(list(ids[i : i + 500])))
                for r in c.execute(q).mappings():
                    out[int(r["feedback_id"])] = dict(r)
        return out

    # -- runs and digests -------------------------------------------------------------------
    def start_run(self, week: str) -> int:
        with self.tx() as c:
            return int(c.execute(t.runs.insert().values(week=week, status="running", started_at=_now(), stats="{}"))
                       .inserted_primary_key[0])

    def running_run(self, stale_after_s: float = 6 * 3600) -> dict[str, Any] | None:
        with self.tx() as c:
            r = c.execute(select(t.runs).where(t.runs.c.status == "running").order_by(t.runs.c.id.desc())).mappings().first()
        if r and (_now() - _aware(r["started_at"])).total_seconds() < stale_after_s:
            return dict(r)
        return None

    def finish_run(self, run_id: int, status: str, *, stats: Mapping[str, Any] | None = None, error: str | None = None) -> None:
        with self.tx() as c:
            c.execute(t.runs.update().where(t.runs.c.id == run_id).values(
                status=status, finished_at=_now(), error=error, stats=json.dumps(stats or {})))

    def save_digest(self, c: Connection, period: str, body: Mapping[str, Any], run_id: int | None) -> None:
        c.execute(t.digests.delete().where(t.digests.c.period == period))
        c.execute(t.digests.insert().values(period=period, body=json.dumps(body), run_id=run_id, created_at=_now()))

    def get_digest(self, period: str) -> dict[str, Any] | None:
        with self.tx() as c:
            body = c.execute(select(t.digests.c.body).where(t.digests.c.period == period)).scalar_one_or_none()
        return None if body is None else dict(json.loads(body))

    def digest_periods(self) -> list[str]:
        with self.tx() as c:
            return [r[0] for r in c.execute(select(t.digests.c.period).order_by(t.digests.c.period))]
