"""The store port: what the services need from persistence, as small Protocols over plain records.

The SQL adapter (``adapters/store.py``) and the in-memory double (``testing.InMemoryStore``) both
implement it; the services (``services/``) see nothing else. Standard library and numpy only.

Reads go through :class:`FeedbackStore`; everything a weekly run writes goes through one
:class:`UnitOfWork` (``with store.unit_of_work() as uow: ...``), committed when the block ends
without an error and rolled back otherwise, so a crash mid-run leaves the store as it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from feedback_miner.domain.types import FeedbackItem

__all__ = [
    "Classifier",
    "FeedbackStore",
    "PredictionRow",
    "ProblemRecord",
    "ProblemUpsert",
    "ResultsReader",
    "RunRecord",
    "UnitOfWork",
]


@dataclass(frozen=True)
class ProblemRecord:
    """A known problem of the registry."""

    id: str
    category: str
    title: str
    centroid: np.ndarray
    first_week: str
    last_week: str
    title_locked: bool = False
    keywords: tuple[str, ...] = ()
    merged_into: str | None = None
    fixed_week: str | None = None
    fixed_by: str | None = None
    fix_link: str | None = None


@dataclass(frozen=True)
class ProblemUpsert:
    """One problem's result for one week: the registry row to create or update, its week figures
    and its members."""

    id: str
    category: str
    title: str
    keywords: tuple[str, ...]
    centroid: np.ndarray
    count: int
    severity: float
    priority: float
    status: str | None
    detail: Mapping[str, Any]
    member_ids: tuple[int, ...]
    is_new: bool


@dataclass(frozen=True)
class PredictionRow:
    feedback_id: int
    classifier_version: str
    category: str
    confidence: float
    secondary_category: str | None = None


@dataclass(frozen=True)
class RunRecord:
    id: int
    week: str
    status: str
    started_at: datetime
    heartbeat_at: datetime | None = None
    owner: str | None = None
    finished_at: datetime | None = None
    error: str | None = None
    stats: Mapping[str, Any] = field(default_factory=dict)


class ResultsReader(Protocol):
    """Reads of stored run results, the same inside a unit of work (seeing its writes) and outside."""

    def problem_records(self) -> list[ProblemRecord]: ...

    def problem_counts(self, weeks: Sequence[str], problem_id: str | None = None) -> list[tuple[str, str, int]]:
        """(problem id, week, count) for the given weeks (optionally one problem)."""
        ...

    def reporters(self, problem_id: str, weeks: Sequence[str]) -> list[tuple[str, str]]:
        """(week, customer id) of each member with a customer id."""
        ...


class UnitOfWork(ResultsReader, Protocol):
    """Everything one run writes, committed together."""

    def save_predictions(self, rows: Sequence[PredictionRow]) -> None: ...

    def replace_week_problems(self, week: str, problems: Sequence[ProblemUpsert]) -> None: ...

    def record_merge(self, absorbed: str, survivor: str, week: str) -> None: ...

    def record_split(self, problem_id: str, week: str) -> None: ...

    def save_digest(self, period: str, body: Mapping[str, Any], run_id: int | None) -> None: ...


class FeedbackStore(ResultsReader, Protocol):
    """The store as the services see it."""

    # feedback
    def upsert_feedback(self, item: FeedbackItem) -> tuple[int, str]: ...

    def feedback_in_weeks(self, weeks: Sequence[str]) -> list[FeedbackItem]: ...

    def feedback_between(self, start: datetime, end: datetime) -> list[FeedbackItem]: ...

    def week_totals(self) -> dict[str, int]: ...

    # embedding cache (the EmbeddingCache protocol)
    def get_vectors(self, model_id: str, hashes: Sequence[str]) -> Mapping[str, np.ndarray]: ...

    def put_vectors(self, model_id: str, vectors: Mapping[str, np.ndarray]) -> None: ...

    # predictions and earlier results
    def predicted_categories(self, ids: Sequence[int]) -> dict[int, str]: ...

    def joined_members(self, weeks: Sequence[str]) -> set[tuple[str, int]]:
        """(week, feedback id) of every text that joined a problem in those weeks."""
        ...

    def weeks_with_results(self, weeks: Sequence[str]) -> set[str]: ...

    # runs: a lease, so a dead run is detected and taken over
    def claim_run(self, week: str, *, owner: str, stale_after_s: float) -> int: ...

    def heartbeat(self, run_id: int) -> None: ...

    def finish_run(self, run_id: int, status: str, *, stats: Mapping[str, Any] | None = None,
                   error: str | None = None) -> None: ...

    def running_run(self, stale_after_s: float = ...) -> RunRecord | None: ...

    # digests
    def get_digest(self, period: str) -> dict[str, Any] | None: ...

    def save_digest(self, period: str, body: Mapping[str, Any], run_id: int | None) -> None: ...

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]: ...


class Classifier(Protocol):
    """A fitted text classifier over embedding vectors (``stages.classify.LinearSoftmaxClassifier``)."""

    @property
    def classes_(self) -> list[str]: ...

    def predict(self, X: np.ndarray) -> list[Any]: ...
