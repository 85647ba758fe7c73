"""Request and response schemas of the HTTP API (separate from the domain types)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from feedback_miner.domain.weeks import WEEK_PATTERN

__all__ = [
    "MAX_CLASSIFY_CHARS",
    "MAX_CLASSIFY_TEXTS",
    "AuditEntry",
    "BatchResult",
    "BulkDecision",
    "BulkItemResult",
    "BulkResult",
    "BulkReview",
    "ClassifyRequest",
    "ClassifyResponse",
    "ClassifyResult",
    "ErrorOut",
    "FeedbackBatch",
    "FeedbackIn",
    "FixRequest",
    "Health",
    "ItemResult",
    "ProblemAction",
    "ProblemDetail",
    "ProblemMatch",
    "ProblemPage",
    "ProblemSummary",
    "RenameRequest",
    "RetrainRequest",
    "RetrainResult",
    "ReviewDecision",
    "ReviewItem",
    "ReviewProgress",
    "ReviewQueue",
    "ReviewResult",
    "RollbackRequest",
    "RollbackResult",
    "RunOut",
    "RunRequest",
    "WebhookResult",
]

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
    role: str | None = Field(default=None, max_length=16, description="'buyer' or 'seller'.")
    handle_minutes: Scalar = Field(default=None, description="Agent handling time in minutes (or h:mm:ss).")


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
    week: str | None = Field(default=None, pattern=WEEK_PATTERN, description="Default: the last complete week.")


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


# -- review loop, model versions, problem actions ----------------------------------------------------

def _real_week(v: str) -> str:
    from feedback_miner.domain.weeks import week_bounds

    week_bounds(v)  # ValueError (→ 422 naming the field) for e.g. 2026-W60
    return v


def _storable(v: str | None) -> str | None:
    if v is not None and any(c == "\x00" or 0xD800 <= ord(c) <= 0xDFFF for c in v):
        raise ValueError("contains a NUL or an unpaired surrogate character")
    return v


class ReviewItem(BaseModel):
    id: int
    text: str = Field(description="Redacted on ingest.")
    week: str
    source: str
    created_at: str | None = None
    predicted_category: Category
    confidence: float
    secondary_category: Category | None = None
    problem_id: str | None = None
    problem_title: str | None = None
    urgency: float = Field(description="(1 − confidence) × problem weight × recency; highest first.")


class ReviewProgress(BaseModel):
    total: int
    confirmed: int
    left: int


class ReviewQueue(BaseModel):
    week: str | None = Field(description="The week shown (default: the newest week with feedback).")
    limit: int
    offset: int
    progress: ReviewProgress
    items: list[ReviewItem]


class ReviewDecision(BaseModel):
    """Confirm or correct a category; "not an issue" is category ``other``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"category": "payment", "secondary_category": "technical"}]})
    category: Category
    secondary_category: Category | None = None


class ReviewResult(BaseModel):
    id: int
    old_category: str | None = None
    category: Category
    secondary_category: Category | None = None
    corrected: bool


class BulkDecision(ReviewDecision):
    id: int = Field(ge=1, le=2**62, description="Feedback id")


class BulkReview(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"items": [{"id": 12, "category": "shipping"}, {"id": 14, "category": "other"}]}]})
    items: list[BulkDecision] = Field(min_length=1, max_length=500)


class BulkItemResult(BaseModel):
    id: int
    status: Literal["confirmed", "corrected", "not_found"]
    old_category: str | None = None
    category: Category
    error: str | None = None


class BulkResult(BaseModel):
    counts: dict[str, int]
    results: list[BulkItemResult]


class AuditEntry(BaseModel):
    id: int
    feedback_id: int
    reviewer: str
    old_category: str | None = None
    new_category: str
    old_secondary: str | None = None
    new_secondary: str | None = None
    created_at: str


class RetrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weight: float | None = Field(default=None, gt=0, le=100, description=(
        "Weight of a confirmation relative to a seed example; default that of `feedback-miner retrain`."))


class RetrainResult(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "version": "v2", "promoted": True, "basis": "seed cross-validation (too few held-out confirmations)",
        "current_version": "v1", "current_macro_f1": 0.91, "candidate_macro_f1": 0.92, "n_train_confirmations": 40,
        "n_validation": 9, "serving": "v2"}]})
    version: str
    promoted: bool
    basis: str
    current_version: str | None = None
    current_macro_f1: float
    candidate_macro_f1: float
    n_train_confirmations: int
    n_validation: int
    serving: str = Field(description="The classifier version this server now classifies with.")


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$",
                           description="Version to make current; default the one before the current.")


class RollbackResult(BaseModel):
    version: str
    serving: str


class FixRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"week": "2026-W46", "link": "https://tracker.example.com/ISSUE-42"}]})
    week: str = Field(pattern=WEEK_PATTERN, description="ISO week the fix shipped.")
    link: str | None = Field(default=None, max_length=500, pattern=r"^https?://\S+$",
                             description="http(s) link to the fix.")

    _check_week = field_validator("week")(_real_week)
    _check_link = field_validator("link")(_storable)


class RenameRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"title": "PayPal checkout fails"}]})
    title: str = Field(min_length=3, max_length=200)

    _check_title = field_validator("title")(_storable)


class ProblemAction(BaseModel):
    id: str
    title: str | None = None
    fixed_week: str | None = None
    fix_link: str | None = None
    fixed_by: str | None = None
