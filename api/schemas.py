"""Request and response schemas of the HTTP API (separate from the domain types)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FeedbackIn", "FeedbackBatch", "ItemResult", "BatchResult", "ClassifyRequest", "ProblemMatch",
           "ClassifyResult", "ClassifyResponse", "WebhookResult", "RunRequest", "RunOut", "ProblemSummary",
           "ProblemPage", "ProblemDetail", "ErrorOut", "Health", "MAX_CLASSIFY_TEXTS", "MAX_CLASSIFY_CHARS"]

MAX_CLASSIFY_TEXTS = 64
MAX_CLASSIFY_CHARS = 5_000
Scalar = str | int | float | bool | None
Category = Literal["technical", "user_interface", "payment", "account", "shipping", "feature_request", "other"]


class ErrorOut(BaseModel):
    """Every error answer."""

    error: str = Field(examples=["invalid_input"])
    message: str = Field(examples=["invalid request: check body.texts"])
    fields: list[dict[str, Any]] = Field(default_factory=list)


class FeedbackIn(BaseModel):
    """One comment or ticket. Only ``text`` is structurally required; each value is validated
    per item (times ISO 8601, rating 1–5, nps 0–10, ces 1–7), so one bad item is rejected alone."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "text": "Checkout fails with error 502 when I pay by card", "external_id": "survey-1842",
        "source": "survey", "created_at": "2026-11-10T09:30:00Z", "channel": "web", "rating": 2, "nps": 3}]})

    text: str = Field(max_length=20_000, description="The comment or ticket text; PII is redacted on ingest.")
    external_id: str | None = Field(default=None, max_length=128, description="Your id; with source, makes ingest idempotent.")
    source: str | None = Field(default=None, max_length=64, description="Origin, default 'api'.")
    created_at: Scalar = Field(default=None, description="ISO 8601 time (or epoch seconds).")
    channel: str | None = Field(default=None, max_length=200)
    segment: str | None = Field(default=None, max_length=200)
    customer_id: str | None = Field(default=None, max_length=128)
    rating: Scalar = None
    nps: Scalar = None
    ces: Scalar = None
    satisfaction: str | None = Field(default=None, max_length=8, description="'good' or 'bad'")
    device: str | None = Field(default=None, max_length=200)
    browser: str | None = Field(default=None, max_length=200)
    app_version: str | None = Field(default=None, max_length=200)
    ticket_status: str | None = Field(default=None, max_length=32)
    opened_at: Scalar = None
    first_response_at: Scalar = None
    resolved_at: Scalar = None
    first_contact_resolution: Scalar = None
    escalated: Scalar = None
    category: str | None = Field(default=None, max_length=32, description="A category already confirmed upstream.")


class FeedbackBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[FeedbackIn] = Field(min_length=1, description="Up to the server's max_batch_items (default 500).")


class ItemResult(BaseModel):
    index: int
    status: Literal["stored", "duplicate", "updated", "rejected"]
    id: int | None = None
    error: dict[str, Any] | None = Field(default=None, examples=[{"field": "rating", "message": "'9' is out of range"}])


class BatchResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "counts": {"stored": 1, "duplicate": 0, "updated": 0, "rejected": 1},
        "results": [{"index": 0, "status": "stored", "id": 41, "error": None},
                    {"index": 1, "status": "rejected", "id": None,
                     "error": {"field": "text", "message": "text is empty"}}]}]})
    counts: dict[str, int]
    results: list[ItemResult]


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"texts": ["I was charged twice for one order", "Where is my parcel? Tracking has not moved"]}]})
    texts: list[str] = Field(min_length=1, max_length=MAX_CLASSIFY_TEXTS)


class ProblemMatch(BaseModel):
    id: str
    title: str
    similarity: float


class ClassifyResult(BaseModel):
    category: Category
    confidence: float
    secondary_category: Category | None = None
    problem: ProblemMatch | None = None


class ClassifyResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"results": [{
        "category": "payment", "confidence": 0.93, "secondary_category": None,
        "problem": {"id": "payment-003", "title": "Charged twice at checkout", "similarity": 0.74}}]}]})
    results: list[ClassifyResult]


class WebhookResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "stored", "id": 12,
                                                               "source": "zendesk", "external_id": "35436"}]})
    status: Literal["stored", "duplicate", "updated"]
    id: int
    source: str
    external_id: str


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"week": "2026-W46"}]})
    week: str | None = Field(default=None, pattern=r"^\d{4}-W\d{2}$", description="Default: the last complete week.")


class RunOut(BaseModel):
    week: str
    status: str
    id: int | None = None
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    stats: dict[str, Any] = Field(default_factory=dict)


class ProblemSummary(BaseModel):
    id: str
    category: str
    title: str
    keywords: list[str]
    week: str
    count: int
    severity: float
    priority: float
    status: str | None = None
    first_week: str
    last_week: str
    fixed_week: str | None = None


class ProblemPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[ProblemSummary]


class ProblemDetail(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    category: str
    title: str
    keywords: list[str]
    status: str | None = None
    weekly_counts: dict[str, int]
    members: list[dict[str, Any]]
    breakdowns: dict[str, dict[str, int]]


class Health(BaseModel):
    status: str
    checks: dict[str, Any] = Field(default_factory=dict)
