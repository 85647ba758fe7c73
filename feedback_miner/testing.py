"""Deterministic doubles for the Protocols, for unit tests (never behind a feature).

* :class:`HashingEmbedder` — bag of hashed word n-grams, L2-normalised; similar texts share words,
  so they land close together, which is enough to exercise classification and clustering logic.
* :class:`MemoryCache` — an in-memory :class:`EmbeddingCache` that counts what it stored.
* :class:`RecordingProgress` — records progress calls.
* :class:`InMemoryStore` — the store port (``domain.ports.FeedbackStore``) in memory, with a unit
  of work that commits by swapping in a staged copy (or raises at commit, on request).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np

from feedback_miner.domain.ports import PredictionRow, ProblemRecord, ProblemUpsert, RunRecord
from feedback_miner.domain.types import FeedbackItem
from feedback_miner.domain.weeks import week_of
from feedback_miner.errors import ConflictError

__all__ = ["SAMPLE_PROBLEMS", "HashingEmbedder", "InMemoryStore", "InMemoryUnitOfWork", "MemoryCache", "RecordingProgress"]


#: Templates of three issue problems and one of praise, for tests of the services with the doubles
#: (``{n}`` makes each text distinct); the hashing embedder keeps each problem's texts together.
SAMPLE_PROBLEMS: dict[str, list[str]] = {
    "payment": ["my card was declined at checkout {n}", "card declined again when paying {n}",
                "checkout says card declined {n}"],
    "shipping": ["my parcel never arrived {n}", "parcel marked delivered but never arrived {n}",
                 "still waiting for my parcel {n}"],
    "account": ["cannot log in to my account {n}", "login fails with wrong password {n}",
                "locked out of my account after login {n}"],
    "other": ["thanks for the quick help {n}", "great support, thank you {n}", "thank you, all sorted {n}"],
}

class HashingEmbedder:
    def __init__(self, dim: int = 256) -> None:
        self._dim = dim
        self.calls = 0
        self.texts_embedded = 0

    @property
    def model_id(self) -> str:
        return f"hashing-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for i, t in enumerate(texts):
            words = re.findall(r"[a-z0-9]+", t.lower())
            for tok in words + [a + " " + b for a, b in zip(words, words[1:])]:
                h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "little")
                out[i, h % self._dim] += 1.0 if (h >> 63) & 1 else -1.0
            n = np.linalg.norm(out[i])
            out[i] = out[i] / n if n > 0 else out[i]
            if n == 0:
                out[i, 0] = 1.0
        return out


class MemoryCache:
    def __init__(self) -> None:
        self.data: dict[tuple[str, str], np.ndarray] = {}

    def get_vectors(self, model_id: str, hashes: Sequence[str]) -> Mapping[str, np.ndarray]:
        return {h: self.data[(model_id, h)] for h in hashes if (model_id, h) in self.data}

    def put_vectors(self, model_id: str, vectors: Mapping[str, np.ndarray]) -> None:
        for h, v in vectors.items():
            self.data[(model_id, h)] = np.asarray(v, dtype=np.float32)


class RecordingProgress:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def start(self, description: str, total: int) -> None:
        self.events.append(("start", (description, total)))

    def advance(self, n: int = 1) -> None:
        self.events.append(("advance", n))

    def finish(self) -> None:
        self.events.append(("finish", None))


class _MemoryState:
    """Everything an :class:`InMemoryStore` holds; copied for a unit of work, swapped in on commit."""

    def __init__(self) -> None:
        self.feedback: dict[int, FeedbackItem] = {}
        self.keys: dict[tuple[str, str], int] = {}
        self.predictions: dict[int, PredictionRow] = {}
        self.problems: dict[str, ProblemRecord] = {}
        self.weeks: dict[tuple[str, str], ProblemUpsert] = {}  # (problem id, week)
        self.members: dict[tuple[str, int], str] = {}  # (week, feedback id) -> problem id
        self.events: list[tuple[str, str, str, dict[str, Any]]] = []
        self.digests: dict[str, dict[str, Any]] = {}


class _MemoryResults:
    def __init__(self, state: _MemoryState) -> None:
        self._s = state

    def problem_records(self) -> list[ProblemRecord]:
        return [self._s.problems[k] for k in sorted(self._s.problems)]

    def problem_counts(self, weeks: Sequence[str], problem_id: str | None = None) -> list[tuple[str, str, int]]:
        ws = set(weeks)
        return sorted((p, w, u.count) for (p, w), u in self._s.weeks.items()
                      if w in ws and (problem_id is None or p == problem_id))

    def reporters(self, problem_id: str, weeks: Sequence[str]) -> list[tuple[str, str]]:
        ws = set(weeks)
        out = []
        for (w, fid), pid in sorted(self._s.members.items()):
            cid = self._s.feedback[fid].customer_id
            if pid == problem_id and w in ws and cid:
                out.append((w, cid))
        return out


class InMemoryUnitOfWork(_MemoryResults):
    def save_predictions(self, rows: Sequence[PredictionRow]) -> None:
        for r in rows:
            self._s.predictions[r.feedback_id] = r

    def replace_week_problems(self, week: str, problems: Sequence[ProblemUpsert]) -> None:
        s = self._s
        s.members = {k: v for k, v in s.members.items() if k[0] != week}
        s.weeks = {k: v for k, v in s.weeks.items() if k[1] != week}
        for p in problems:
            old = s.problems.get(p.id)
            if p.is_new or old is None:
                s.problems[p.id] = ProblemRecord(p.id, p.category, p.title[:200], np.asarray(p.centroid, np.float32),
                                                 week, week, keywords=tuple(p.keywords))
            else:
                s.problems[p.id] = dataclasses.replace(old, keywords=tuple(p.keywords),
                                                       centroid=np.asarray(p.centroid, np.float32),
                                                       last_week=max(week, old.last_week))
            s.weeks[(p.id, week)] = p
            for m in p.member_ids:
                s.members[(week, m)] = p.id

    def record_merge(self, absorbed: str, survivor: str, week: str) -> None:
        self._s.problems[absorbed] = dataclasses.replace(self._s.problems[absorbed], merged_into=survivor)
        self._s.events.append((absorbed, "merge", week, {"into": survivor}))

    def record_split(self, problem_id: str, week: str) -> None:
        self._s.events.append((problem_id, "split", week, {}))

    def save_digest(self, period: str, body: Mapping[str, Any], run_id: int | None) -> None:
        self._s.digests[period] = json.loads(json.dumps(body))


class InMemoryStore(_MemoryResults):
    """The store port in memory, for fast unit tests of the services. ``fail_on_commit`` makes the
    next unit of work raise at commit, to test that a failed run leaves nothing behind."""

    def __init__(self) -> None:
        super().__init__(_MemoryState())
        self.vectors = MemoryCache()
        self.runs: dict[int, RunRecord] = {}
        self.fail_on_commit: BaseException | None = None

    # feedback
    def upsert_feedback(self, item: FeedbackItem) -> tuple[int, str]:
        key = (item.source, item.external_id)
        if key in self._s.keys:
            return self._s.keys[key], "duplicate"
        fid = len(self._s.feedback) + 1
        self._s.keys[key] = fid
        self._s.feedback[fid] = dataclasses.replace(item, id=fid)
        return fid, "stored"

    def feedback_in_weeks(self, weeks: Sequence[str]) -> list[FeedbackItem]:
        ws = set(weeks)
        return [i for _, i in sorted(self._s.feedback.items()) if week_of(i.created_at) in ws]

    def feedback_between(self, start: datetime, end: datetime) -> list[FeedbackItem]:
        return [i for _, i in sorted(self._s.feedback.items()) if start <= i.created_at < end]

    def week_totals(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in self._s.feedback.values():
            w = week_of(i.created_at)
            out[w] = out.get(w, 0) + 1
        return out

    # embedding cache
    def get_vectors(self, model_id: str, hashes: Sequence[str]) -> Mapping[str, np.ndarray]:
        return self.vectors.get_vectors(model_id, hashes)

    def put_vectors(self, model_id: str, vectors: Mapping[str, np.ndarray]) -> None:
        self.vectors.put_vectors(model_id, vectors)

    # predictions and earlier results
    def predicted_categories(self, ids: Sequence[int]) -> dict[int, str]:
        return {i: self._s.predictions[i].category for i in ids if i in self._s.predictions}

    def joined_members(self, weeks: Sequence[str]) -> set[tuple[str, int]]:
        ws = set(weeks)
        return {k for k in self._s.members if k[0] in ws}

    def weeks_with_results(self, weeks: Sequence[str]) -> set[str]:
        ws = set(weeks)
        return {w for (_, w) in self._s.weeks if w in ws}

    # runs
    def claim_run(self, week: str, *, owner: str, stale_after_s: float = 120.0) -> int:
        live = self.running_run(stale_after_s)
        for r in list(self.runs.values()):  # dead runs are marked abandoned, as the SQL store does
            if r.status == "running" and r is not live:
                self.runs[r.id] = dataclasses.replace(r, status="abandoned", error=f"taken over by {owner}")
        if live is not None:
            raise ConflictError(f"a run is already in progress (run {live.id} for {live.week})")
        rid = len(self.runs) + 1
        now = datetime.now(UTC)
        self.runs[rid] = RunRecord(rid, week, "running", now, heartbeat_at=now, owner=owner)
        return rid

    def heartbeat(self, run_id: int) -> None:
        self.runs[run_id] = dataclasses.replace(self.runs[run_id], heartbeat_at=datetime.now(UTC))

    def finish_run(self, run_id: int, status: str, *, stats: Mapping[str, Any] | None = None,
                   error: str | None = None) -> None:
        self.runs[run_id] = dataclasses.replace(self.runs[run_id], status=status, stats=dict(stats or {}),
                                                error=error, finished_at=datetime.now(UTC))

    def running_run(self, stale_after_s: float = 120.0) -> RunRecord | None:
        now = datetime.now(UTC)
        for r in sorted(self.runs.values(), key=lambda r: r.id):
            if r.status == "running" and (now - (r.heartbeat_at or r.started_at)).total_seconds() < stale_after_s:
                return r
        return None

    # digests and the unit of work
    def get_digest(self, period: str) -> dict[str, Any] | None:
        d = self._s.digests.get(period)
        return None if d is None else json.loads(json.dumps(d))

    def save_digest(self, period: str, body: Mapping[str, Any], run_id: int | None) -> None:
        with self.unit_of_work() as uow:
            uow.save_digest(period, body, run_id)

    @contextmanager
    def unit_of_work(self) -> Iterator[InMemoryUnitOfWork]:
        staged = copy.deepcopy(self._s)
        yield InMemoryUnitOfWork(staged)
        if self.fail_on_commit is not None:
            exc, self.fail_on_commit = self.fail_on_commit, None
            raise exc
        self._s = staged
