"""The reads a backlog needs from the SQL store: stored feedback whose text has no vector for a
model, and feedback without a prediction of a classifier version, in id order, a page at a time.

:class:`SqlBacklog` wraps a :class:`~feedback_miner.adapters.store.Store` through its public
``tx()`` and implements :class:`feedback_miner.services.backlog.BacklogStore`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, and_, exists, func, or_, select

from feedback_miner.adapters import tables as t
from feedback_miner.adapters.sql_results import SqlUnitOfWork
from feedback_miner.adapters.store import Store

__all__ = ["SqlBacklog"]

_f, _e, _p = t.feedback, t.embeddings, t.predictions


class SqlBacklog:
    """The backlog reads over a SQL store; the cache and writes go to the store itself."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _no_vector(self, model_id: str) -> ColumnElement[bool]:
        return ~exists().where(_e.c.model_id == model_id, _e.c.text_hash == _f.c.text_hash)

    def _no_prediction(self, classifier_version: str) -> ColumnElement[bool]:
        return or_(_p.c.feedback_id.is_(None), _p.c.classifier_version != classifier_version)

    def count_pending(self, model_id: str) -> int:
        with self.store.tx() as c:
            return int(c.execute(select(func.count()).select_from(_f).where(self._no_vector(model_id))).scalar_one())

    def pending_texts(self, model_id: str, *, after_id: int, limit: int) -> list[tuple[int, str]]:
        """(id, text) of up to ``limit`` feedback rows after ``after_id`` whose text has no vector."""
        q = (select(_f.c.id, _f.c.text).where(_f.c.id > after_id, self._no_vector(model_id))
             .order_by(_f.c.id).limit(limit))
        with self.store.tx() as c:
            return [(int(i), str(x)) for i, x in c.execute(q)]

    def count_unpredicted(self, classifier_version: str) -> int:
        q = (select(func.count()).select_from(_f.outerjoin(_p, _p.c.feedback_id == _f.c.id))
             .where(self._no_prediction(classifier_version)))
        with self.store.tx() as c:
            return int(c.execute(q).scalar_one())

    def unpredicted(self, classifier_version: str, *, after_id: int, limit: int) -> list[tuple[int, str]]:
        """(id, text) of up to ``limit`` rows after ``after_id`` without a prediction of that version."""
        q = (select(_f.c.id, _f.c.text).select_from(_f.outerjoin(_p, _p.c.feedback_id == _f.c.id))
             .where(and_(_f.c.id > after_id, self._no_prediction(classifier_version)))
             .order_by(_f.c.id).limit(limit))
        with self.store.tx() as c:
            return [(int(i), str(x)) for i, x in c.execute(q)]

    # -- the store's own cache and unit of work --------------------------------------------------
    def get_vectors(self, model_id: str, hashes: Sequence[str]) -> Mapping[str, np.ndarray]:
        return self.store.get_vectors(model_id, hashes)

    def put_vectors(self, model_id: str, vectors: Mapping[str, np.ndarray]) -> None:
        """Insert, skipping a vector another process stored meanwhile (a weekly run embedding the
        same new text): ``ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL."""
        if not vectors:
            return
        rows = [{"model_id": model_id, "text_hash": h, "vector": np.asarray(v, np.float32).tobytes()}
                for h, v in vectors.items()]
        backend = self.store.engine.url.get_backend_name()
        if backend == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt: Any = pg_insert(_e).on_conflict_do_nothing()
        elif backend == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(_e).on_conflict_do_nothing()
        else:
            self.store.put_vectors(model_id, vectors)
            return
        with self.store.tx() as c:
            for i in range(0, len(rows), 500):
                c.execute(stmt, rows[i : i + 500])

    @contextmanager
    def unit_of_work(self) -> Iterator[SqlUnitOfWork]:
        with self.store.unit_of_work() as uow:
            yield uow
