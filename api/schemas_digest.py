"""The response model of ``GET /v1/digests/{iso_week}`` (JSON): the serialised ``Digest``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CountsOut", "DigestOut", "DigestProblem", "FixWatchEntry", "MetricOut", "SevereReport", "SummaryOut"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class SeverityTermOut(BaseModel):
    name: str
    value: float
    weight: float
    contribution: float
    explanation: str


class DigestProblem(_Open):
    id: str
    category: str
    title: str
    keywords: list[str]
    size: int
    share_of_category: float
    quotes: list[str]
    breakdowns: dict[str, dict[str, int]]
    error_codes: list[str]
    severity: float
    severity_terms: list[SeverityTermOut]
    priority: float
    rank: int | None = None
    weekly_counts: dict[str, int] | None = None
    status: str | None = None
    trend: str | None = None
    satisfaction: dict[str, Any] | None = None
    member_categories: dict[str, int] | None = None


class MetricOut(BaseModel):
    key: str
    label: str
    value: float | None
    unit: str
    target: float | None = None
    n: int = 0
    previous: float | None = None
    change: float | None = None
    enough: bool = False
    note: str = ""
    parts: dict[str, float] = Field(default_factory=dict)
    meets_target: bool | None = None


class SummaryOut(BaseModel):
    headline: list[str] = Field(default_factory=list)
    top_problems: list[str] = Field(default_factory=list)
    changes: list[str] = Field(default_factory=list)
    actions: list[str] = Field(default_factory=list)
    analysed: int = 0


class CountsOut(BaseModel):
    analysed: int
    other: int
    unclustered: int
    problems: int
    by_category: dict[str, int]


class SevereReport(_Open):
    category: str
    quote: str
    reason: str | None = None


class FixWatchEntry(_Open):
    id: str
    title: str
    fixed_week: str
    verdict: str
    weekly_counts: dict[str, int]


class DigestOut(BaseModel):
    period: str
    generated_at: str
    counts: CountsOut
    summary: SummaryOut
    metrics: list[MetricOut]
    new_and_growing: list[DigestProblem]
    top_problems: list[DigestProblem]
    other_themes: list[DigestProblem]
    severe_unclustered: list[SevereReport] = Field(default_factory=list)
    classifier_version: str | None = None
    merges: list[tuple[str, str]] = Field(default_factory=list)
    splits: list[dict[str, Any]] = Field(default_factory=list)
    fix_watch: list[FixWatchEntry] = Field(default_factory=list)
