"""The weekly run as a service over the store port: the same tests against the in-memory store
(fast, no SQL) and real SQLite — one fixture, parametrised — with the deterministic doubles.

PostgreSQL joins the parametrisation when ``FM_TEST_POSTGRES_URL`` points at a server (CI starts one).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from feedback_miner.domain.ports import FeedbackStore
from feedback_miner.domain.types import FeedbackItem
from feedback_miner.domain.weeks import shift_week, week_bounds
from feedback_miner.errors import ConflictError, InputError, NotFoundError
from feedback_miner.services.fix_watch import fix_watch
from feedback_miner.services.weekly import RunOptions, run_week
from feedback_miner.stages.classify import LinearSoftmaxClassifier
from feedback_miner.stages.digest import Digest
from feedback_miner.testing import SAMPLE_PROBLEMS as PROBLEMS
from feedback_miner.testing import HashingEmbedder, InMemoryStore
from tests.conftest import fresh_database, store_backends

WEEK = "2026-W46"
OPTS = RunOptions(heartbeat_s=0.05)


@pytest.fixture(params=["memory", *store_backends()])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The in-memory double, real SQLite and (in CI, or when FM_TEST_POSTGRES_URL is set) PostgreSQL."""
    if request.param == "memory":
        yield InMemoryStore()
        return
    from feedback_miner.adapters.store import open_store

    with fresh_database(request.param, tmp_path) as url:
        s = open_store(url)
        yield s
        s.engine.dispose()


@pytest.fixture(scope="module")
def clf() -> LinearSoftmaxClassifier:
    emb = HashingEmbedder()
    texts = [t.format(n=n) for cat, ts in PROBLEMS.items() for t in ts for n in range(6)]
    labels = [cat for cat, ts in PROBLEMS.items() for _ in ts for _ in range(6)]
    return LinearSoftmaxClassifier(C=2.0).fit(emb.embed(texts), labels)


def _fill(store: FeedbackStore, week: str, per: int, offset: int = 0) -> None:
    t0 = week_bounds(week)[0] + timedelta(hours=1)
    n = 0
    for cat, templates in PROBLEMS.items():
        for k in range(per):
            text = templates[k % len(templates)].format(n=offset + k)
            store.upsert_feedback(FeedbackItem(text=text, source="t", external_id=f"{week}-{cat}-{k}",
                                               created_at=t0 + timedelta(minutes=n), customer_id=f"c{k % 5}"))
            n += 1


def test_a_week_runs_and_its_digest_is_stored(store: Any, clf: LinearSoftmaxClassifier) -> None:
    _fill(store, WEEK, 12)
    d = run_week(store, HashingEmbedder(), clf, week=WEEK, classifier_version="v-test", options=OPTS)
    assert isinstance(d, Digest)
    assert d.counts["analysed"] == 48 and d.classifier_version == "v-test"
    assert {p["category"] for p in d.top_problems} >= {"payment", "shipping", "account"}
    assert "other" not in {p["category"] for p in d.top_problems}
    stored = store.get_digest(WEEK)
    assert stored is not None and Digest.from_dict(stored) == Digest.from_dict(d.to_dict())
    assert store.running_run() is None


def test_problems_keep_their_ids_week_after_week(store: Any, clf: LinearSoftmaxClassifier) -> None:
    prev = shift_week(WEEK, -1)
    _fill(store, prev, 12)
    _fill(store, WEEK, 12, offset=100)
    emb = HashingEmbedder()
    first = run_week(store, emb, clf, week=prev, classifier_version="v", options=OPTS)
    second = run_week(store, emb, clf, week=WEEK, classifier_version="v", options=OPTS)
    ids_before = {p["id"] for p in first.top_problems}
    ids_after = {p["id"] for p in second.top_problems}
    assert ids_before and len(ids_before & ids_after) >= len(ids_before) - 1
    assert all(len(p["weekly_counts"]) == 7 for p in second.top_problems)


def test_a_failed_commit_leaves_nothing_behind(clf: LinearSoftmaxClassifier) -> None:
    store = InMemoryStore()
    _fill(store, WEEK, 12)
    store.fail_on_commit = RuntimeError("power cut")
    with pytest.raises(RuntimeError, match="power cut"):
        run_week(store, HashingEmbedder(), clf, week=WEEK, classifier_version="v", options=OPTS)
    assert store.get_digest(WEEK) is None and store.problem_records() == []
    assert [r.status for r in store.runs.values()] == ["failed"]
    run_week(store, HashingEmbedder(), clf, week=WEEK, classifier_version="v", options=OPTS)  # and the next run works
    assert store.get_digest(WEEK) is not None


def test_a_live_run_blocks_and_a_dead_one_is_taken_over(store: Any, clf: LinearSoftmaxClassifier) -> None:
    _fill(store, WEEK, 12)
    store.claim_run(WEEK, owner="elsewhere:1")
    with pytest.raises(ConflictError, match="already in progress"):
        run_week(store, HashingEmbedder(), clf, week=WEEK, classifier_version="v", options=OPTS)
    # the owner stops beating: after the stale limit the next run takes over at once
    d = run_week(store, HashingEmbedder(), clf, week=WEEK, classifier_version="v",
                 options=RunOptions(stale_after_s=0.0, heartbeat_s=0.05))
    assert d.counts["analysed"] == 48
    assert store.running_run() is None


def test_fix_watch_reads_through_the_port(store: Any, clf: LinearSoftmaxClassifier) -> None:
    _fill(store, WEEK, 12)
    run_week(store, HashingEmbedder(), clf, week=WEEK, classifier_version="v", options=OPTS)
    assert fix_watch(store, WEEK) == []  # nothing marked fixed
    assert store.problem_counts([WEEK]) and all(n > 0 for _, _, n in store.problem_counts([WEEK]))


def test_bad_weeks_and_empty_weeks_are_clear_errors(clf: LinearSoftmaxClassifier) -> None:
    store = InMemoryStore()
    with pytest.raises(InputError, match="not an ISO week"):
        run_week(store, HashingEmbedder(), clf, week="W47", classifier_version="v")
    with pytest.raises(ValueError):  # an InputError is also a ValueError
        run_week(store, HashingEmbedder(), clf, week="2026-W60", classifier_version="v")
    with pytest.raises(NotFoundError, match="ingest some first"):
        run_week(store, HashingEmbedder(), clf, week=WEEK, classifier_version="v")
    assert store.runs == {}


def test_in_memory_store_matches_the_protocol() -> None:
    store: FeedbackStore = InMemoryStore()  # mypy checks the structural match; this checks it at run time
    when = datetime(2026, 11, 10, tzinfo=UTC)
    fid, outcome = store.upsert_feedback(FeedbackItem(text="x", source="s", external_id="1", created_at=when))
    assert (fid, outcome) == (1, "stored")
    assert store.upsert_feedback(FeedbackItem(text="x", source="s", external_id="1", created_at=when))[1] == "duplicate"
    assert store.week_totals() == {WEEK: 1}
