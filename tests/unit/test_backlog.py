"""The backlog service over the SQL backlog reads (real SQLite, the hashing test embedder): every
stored text embedded once, duplicates once, an interrupted backfill resumes, predictions saved."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from feedback_miner.adapters.backlog_sql import SqlBacklog
from feedback_miner.adapters.store import Store, open_store
from feedback_miner.domain.types import FeedbackItem
from feedback_miner.errors import InputError
from feedback_miner.services.backlog import follow_backlog, run_backlog
from feedback_miner.stages.classify import LinearSoftmaxClassifier
from feedback_miner.stages.embed import text_hash
from feedback_miner.testing import HashingEmbedder

T0 = datetime(2026, 11, 9, tzinfo=UTC)
KINDS = {"payment": "card payment {} failed at checkout", "shipping": "parcel {} arrived late and damaged",
         "account": "cannot log in to account {} after reset"}
LABELS = [list(KINDS)[i % 3] for i in range(50)]
TEXTS = [KINDS[c].format(i) for i, c in enumerate(LABELS)]


def _store(tmp_path: Path, texts: Sequence[str]) -> Store:
    store = open_store(f"sqlite:///{tmp_path / 'fm.db'}")
    for i, t in enumerate(texts):
        store.upsert_feedback(FeedbackItem(text=t, source="t", external_id=str(i), created_at=T0 + timedelta(hours=i)))
    return store


class FailingAfter(HashingEmbedder):
    """Embeds ``n`` chunks, then fails, as a backfill killed mid-way would."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.left = n

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.left == 0:
            raise RuntimeError("killed")
        self.left -= 1
        return super().embed(texts)


def test_every_text_embedded_once_and_duplicates_once(tmp_path: Path) -> None:
    store = _store(tmp_path, TEXTS + TEXTS[:10])  # 10 rows repeat a text (other external ids)
    emb = HashingEmbedder()
    rep = run_backlog(SqlBacklog(store), emb, chunk_size=7)
    assert (rep.rows_embedded, rep.texts_embedded) == (60, 50)
    assert emb.texts_embedded == 50
    assert len(store.get_vectors(emb.model_id, [text_hash(t) for t in TEXTS])) == 50
    assert run_backlog(SqlBacklog(store), emb).rows_embedded == 0


def test_an_interrupted_backfill_keeps_its_chunks_and_resumes(tmp_path: Path) -> None:
    store = _store(tmp_path, TEXTS)
    backlog = SqlBacklog(store)
    with pytest.raises(RuntimeError, match="killed"):
        run_backlog(backlog, FailingAfter(3), chunk_size=10)
    assert backlog.count_pending("hashing-256") == 20  # three chunks of ten were stored
    emb = HashingEmbedder()
    rep = run_backlog(backlog, emb, chunk_size=10)
    assert rep.rows_embedded == emb.texts_embedded == 20
    assert backlog.count_pending("hashing-256") == 0


def test_classify_saves_a_prediction_per_row_for_the_version(tmp_path: Path) -> None:
    store = _store(tmp_path, TEXTS)
    emb = HashingEmbedder()
    y = LABELS
    clf = LinearSoftmaxClassifier(folds=2).fit(emb.embed(TEXTS), y)
    backlog = SqlBacklog(store)
    rep = run_backlog(backlog, emb, clf, classifier_version="v-test", chunk_size=16)
    assert rep.rows_classified == 50 and backlog.count_unpredicted("v-test") == 0
    ids = [i.id for i in store.feedback_in_weeks(["2026-W46"])]
    assert store.predicted_categories(ids) == {i: c for i, c in zip(ids, y)}
    assert backlog.count_unpredicted("v-next") == 50  # a new classifier version classifies again
    assert run_backlog(backlog, emb, clf, classifier_version="v-test").rows_classified == 0


def test_bad_chunk_size_and_missing_version_are_input_errors(tmp_path: Path) -> None:
    store = _store(tmp_path, TEXTS[:3])
    with pytest.raises(InputError, match="chunk size"):
        run_backlog(SqlBacklog(store), HashingEmbedder(), chunk_size=0)
    clf = LinearSoftmaxClassifier(folds=2).fit(HashingEmbedder().embed(TEXTS), LABELS)
    with pytest.raises(InputError, match="version"):
        run_backlog(SqlBacklog(store), HashingEmbedder(), clf)


def test_follow_embeds_and_classifies_rows_as_they_arrive(tmp_path: Path) -> None:
    store = _store(tmp_path, TEXTS[:20])
    emb = HashingEmbedder()
    clf = LinearSoftmaxClassifier(folds=2).fit(emb.embed(TEXTS), LABELS)
    backlog = SqlBacklog(store)
    arrivals = iter([TEXTS[20:35], TEXTS[35:50]])
    naps: list[float] = []

    def sleep(s: float) -> None:  # between idle passes, new feedback arrives
        naps.append(s)
        batch = next(arrivals, None)
        for k, t in enumerate(batch or []):
            store.upsert_feedback(FeedbackItem(text=t, source="late", external_id=f"{len(naps)}-{k}", created_at=T0))

    passes: list[int] = []
    total = follow_backlog(backlog, emb, clf, classifier_version="v1", interval_s=5, sleep=sleep,
                           on_pass=lambda r: passes.append(r.rows_embedded), stop=lambda: len(naps) >= 3)
    assert total == 50 and passes == [20, 0, 15, 0, 15, 0]
    assert naps == [5, 5, 5]
    assert backlog.count_pending(emb.model_id) == 0 and backlog.count_unpredicted("v1") == 0


def test_vectors_stored_meanwhile_by_another_process_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store(tmp_path, TEXTS[:3])
    emb = HashingEmbedder()
    h = text_hash(TEXTS[0])
    store.put_vectors(emb.model_id, {h: np.ones(256, np.float32)})  # e.g. a weekly run got there first...
    real_get = store.get_vectors
    monkeypatch.setattr(store, "get_vectors", lambda model_id, hashes: {})  # ...after any check for it
    SqlBacklog(store).put_vectors(emb.model_id, {h: np.zeros(256, np.float32), text_hash(TEXTS[1]): emb.embed([TEXTS[1]])[0]})
    got = real_get(emb.model_id, [h, text_hash(TEXTS[1])])
    assert (got[h] == 1).all() and len(got) == 2
