"""Embed and classify a backlog already in the store: every stored text without a vector for the
embedder's model, then (optionally) every row without a prediction of the current classifier.

Work goes in chunks, in feedback id order; each chunk's vectors are cached (and its predictions
saved) before the next is read, so an interrupted backfill keeps what it finished and a second run
picks up where it stopped. The embedder may be local or a Dask cluster
(:class:`feedback_miner.adapters.distributed.embedder.DaskEmbedder`): this module does not know.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from feedback_miner.domain.ports import Classifier, PredictionRow, UnitOfWork
from feedback_miner.errors import InputError
from feedback_miner.stages.embed import embed_texts, text_hash
from feedback_miner.stages.protocols import Embedder, EmbeddingCache, NullProgress, Progress

__all__ = ["BacklogReport", "BacklogStore", "classify_backlog", "embed_backlog", "follow_backlog", "run_backlog"]


class BacklogStore(EmbeddingCache, Protocol):
    """What a backfill needs from the store (``adapters.backlog_sql.SqlBacklog`` over SQL)."""

    def count_pending(self, model_id: str) -> int: ...

    def pending_texts(self, model_id: str, *, after_id: int, limit: int) -> list[tuple[int, str]]: ...

    def count_unpredicted(self, classifier_version: str) -> int: ...

    def unpredicted(self, classifier_version: str, *, after_id: int, limit: int) -> list[tuple[int, str]]: ...

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]: ...


@dataclass(frozen=True)
class BacklogReport:
    rows_embedded: int  # feedback rows whose text had no vector and now has one
    texts_embedded: int  # distinct texts sent to the embedder
    rows_classified: int
    model_id: str
    classifier_version: str | None


def _check_chunk(chunk_size: int) -> None:
    if chunk_size < 1:
        raise InputError(f"chunk size must be >= 1, got {chunk_size}")


def embed_backlog(store: BacklogStore, embedder: Embedder, *, chunk_size: int = 4096,
                  progress: Progress | None = None) -> tuple[int, int]:
    """Cache a vector for every stored text that has none for ``embedder.model_id``; returns
    (rows, distinct texts) embedded."""
    _check_chunk(chunk_size)
    progress = progress or NullProgress()
    model_id = embedder.model_id
    total = store.count_pending(model_id)
    seen = texts_done = after = 0
    progress.start(f"Embedding {total} stored texts without a {model_id} vector", total)
    while rows := store.pending_texts(model_id, after_id=after, limit=chunk_size):
        after = rows[-1][0]
        todo: dict[str, str] = {}
        for _, text in rows:
            todo.setdefault(text_hash(text), text)
        vecs = embedder.embed(list(todo.values()))
        store.put_vectors(model_id, dict(zip(todo, vecs)))
        texts_done += len(todo)
        seen += len(rows)
        progress.advance(len(rows))
    rows_done = total - store.count_pending(model_id)  # a repeated text's later rows were covered by its first
    progress.advance(max(0, rows_done - seen))
    progress.finish()
    return rows_done, texts_done


def classify_backlog(store: BacklogStore, embedder: Embedder, clf: Classifier, *, classifier_version: str,
                     chunk_size: int = 4096, progress: Progress | None = None) -> int:
    """Predict and save a category for every stored row without a prediction of ``classifier_version``
    (vectors from the cache; a text without one is embedded first); returns the rows classified."""
    _check_chunk(chunk_size)
    progress = progress or NullProgress()
    total = store.count_unpredicted(classifier_version)
    done = after = 0
    progress.start(f"Classifying {total} stored rows ({classifier_version})", total)
    while rows := store.unpredicted(classifier_version, after_id=after, limit=chunk_size):
        after = rows[-1][0]
        X = embed_texts([text for _, text in rows], embedder, cache=store, chunk_size=chunk_size)
        preds = clf.predict(X)
        with store.unit_of_work() as uow:
            uow.save_predictions([PredictionRow(fid, classifier_version, p.category, p.confidence, p.secondary_category)
                                  for (fid, _), p in zip(rows, preds)])
        done += len(rows)
        progress.advance(len(rows))
    progress.finish()
    return done


def run_backlog(store: BacklogStore, embedder: Embedder, clf: Classifier | None = None, *,
                classifier_version: str | None = None, chunk_size: int = 4096,
                progress: Progress | None = None) -> BacklogReport:
    """Embed the backlog, then classify it when a classifier is given."""
    rows, texts = embed_backlog(store, embedder, chunk_size=chunk_size, progress=progress)
    classified = 0
    if clf is not None:
        if not classifier_version:
            raise InputError("classifying a backlog needs the classifier's version")
        classified = classify_backlog(store, embedder, clf, classifier_version=classifier_version,
                                      chunk_size=chunk_size, progress=progress)
    return BacklogReport(rows, texts, classified, embedder.model_id, classifier_version if clf else None)


def follow_backlog(store: BacklogStore, embedder: Embedder, clf: Classifier | None = None, *,
                   classifier_version: str | None = None, interval_s: float = 10.0, chunk_size: int = 4096,
                   stop: Callable[[], bool] = lambda: False, on_pass: Callable[[BacklogReport], None] | None = None,
                   sleep: Callable[[float], None] = time.sleep) -> int:
    """Embed on arrival: run :func:`run_backlog` again and again, waiting ``interval_s`` after a pass
    that found nothing, until ``stop()`` is true; returns the rows embedded in all.

    The queue is the store itself (rows without a vector, rows without a prediction), so nothing is
    lost when the follower stops: the next pass, or the weekly run, picks the rows up. Run one
    follower per model (two would embed the same rows); for more throughput give it a Dask embedder.
    """
    if interval_s <= 0:
        raise InputError(f"interval must be a positive number of seconds, got {interval_s}")
    total = 0
    while not stop():
        rep = run_backlog(store, embedder, clf, classifier_version=classifier_version, chunk_size=chunk_size)
        total += rep.rows_embedded
        if on_pass is not None:
            on_pass(rep)
        if not (rep.rows_embedded or rep.rows_classified) and not stop():
            sleep(interval_s)
    return total
