"""Domain types: categories, feedback items and the shapes stages pass to each other.

Standard library and numpy only (no I/O libraries) — see tests/unit/test_architecture.py.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "CATEGORY_IDS",
    "ISSUE_CATEGORIES",
    "Category",
    "FeedbackItem",
    "Prediction",
    "Problem",
    "SeverityTerm",
    "effective_categories",
]


class Category(str, enum.Enum):
    """The six issue categories of the support plan, plus ``other`` (not an actionable issue)."""

    TECHNICAL = "technical"
    USER_INTERFACE = "user_interface"
    PAYMENT = "payment"
    ACCOUNT = "account"
    SHIPPING = "shipping"
    FEATURE_REQUEST = "feature_request"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Category.TECHNICAL: "Technical",
    Category.USER_INTERFACE: "User interface",
    Category.PAYMENT: "Payment",
    Category.ACCOUNT: "Account management",
    Category.SHIPPING: "Shipping & delivery",
    Category.FEATURE_REQUEST: "Feature requests",
    Category.OTHER: "Other (no issue)",
}

CATEGORY_IDS: tuple[str, ...] = tuple(c.value for c in Category)
ISSUE_CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category if c is not Category.OTHER)


@dataclass(frozen=True)
class FeedbackItem:
    """One comment or ticket after validation and redaction.

    Times are timezone-aware UTC. Optional metadata is ``None`` where the source had none.
    """

    text: str
    source: str
    external_id: str
    created_at: datetime
    channel: str | None = None
    segment: str | None = None
    customer_id: str | None = None
    rating: int | None = None
    nps: int | None = None
    ces: int | None = None
    satisfaction: str | None = None
    device: str | None = None
    browser: str | None = None
    app_version: str | None = None
    ticket_status: str | None = None
    opened_at: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    first_contact_resolution: bool | None = None
    escalated: bool | None = None
    category: str | None = None  # a confirmed category given with the data, if any
    role: str | None = None  # "buyer" or "seller" (the marketplace side of the customer)
    handle_minutes: float | None = None  # agent handling time of the ticket, when the export gives it
    id: int | None = None  # store id once stored


@dataclass(frozen=True)
class Prediction:
    category: str
    confidence: float
    secondary_category: str | None = None
    probabilities: tuple[float, ...] = ()


@dataclass(frozen=True)
class SeverityTerm:
    """One term of a problem's severity, shown in the digest so a reader sees why it ranks."""

    name: str
    value: float
    weight: float
    explanation: str

    @property
    def contribution(self) -> float:
        return self.value * self.weight


@dataclass
class Problem:
    """A recurring problem: one cluster of feedback within one category."""

    id: str
    category: str
    title: str
    keywords: list[str]
    member_ids: list[int]
    quotes: list[str]
    share_of_category: float = 0.0
    breakdowns: dict[str, dict[str, int]] = field(default_factory=dict)
    error_codes: list[str] = field(default_factory=list)
    severity: float = 0.0
    severity_terms: list[SeverityTerm] = field(default_factory=list)
    priority: float = 0.0
    weekly_counts: dict[str, int] = field(default_factory=dict)
    status: str | None = None
    trend_statistic: str | None = None
    emerging: bool = False
    satisfaction: dict[str, float | int | str | None] = field(default_factory=dict)
    # How many members were classified (or given) each category, when they disagree with
    # ``category`` (the members' majority): the digest can say "3 of 12 texts were classified payment".
    member_categories: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.member_ids)


def effective_categories(items: Sequence[FeedbackItem], predicted: Sequence[str]) -> list[str]:
    """The category each item counts under: a confirmed or given one wins over the prediction."""
    return [i.category or p for i, p in zip(items, predicted)]
