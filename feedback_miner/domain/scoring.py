"""Severity and priority: frequency combined with severity, explained term by term.

severity = Σ weight × value over the terms below (each value in [0, 1], weights sum to 1):

=================  ======  ==========================================================
term               weight  value
=================  ======  ==========================================================
category           0.30    the category's weight: payment 1.0 … feature requests 0.3
blocking           0.25    share of texts with blocking language ("can't pay", "locked out")
low_rating         0.15    share of rated texts rating support 1–2 of 5
detractors         0.10    share of NPS answers 0–6
unresolved         0.10    share of tickets still open/pending or reopened
money              0.10    share of texts that put money at stake (failed payments, charges, refunds, payouts)
=================  ======  ==========================================================

priority = severity × log2(1 + size) × growth, growth = 1 + min(1, max(0, (observed/expected − 1) / 2))
when a trend is known (a problem at 3× its expected volume gets ×2), else 1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from feedback_miner.domain.types import FeedbackItem, SeverityTerm

__all__ = ["CATEGORY_WEIGHTS", "TERM_WEIGHTS", "is_blocking", "priority", "puts_money_at_stake", "severity", "severity_terms"]

CATEGORY_WEIGHTS = {
    "payment": 1.0, "account": 0.85, "technical": 0.8, "shipping": 0.75,
    "user_interface": 0.4, "feature_request": 0.3, "other": 0.1,
}
TERM_WEIGHTS = {"category": 0.30, "blocking": 0.25, "low_rating": 0.15, "detractors": 0.10, "unresolved": 0.10, "money": 0.10}

_BLOCKING = re.compile(
    r"\b(can'?t|cannot|can not|unable to|won'?t let me|not able to|impossible to)\b"
    r"|\b(charged twice|double[- ]charged|locked out|blocked|declined|crash\w*|freez\w*|stuck|"
    r"fail\w*|not (?:received|arrived|working|loading)|never (?:arrived|came|received)|lost|"
    r"missing|stolen|hacked|error)\b",
    re.I,
)
_MONEY = re.compile(
    r"[$€£]\s?\d|\d\s?(?:usd|eur|gbp|dollars|euros|pounds)\b"
    r"|\b(charge[sd]?|charging|overcharg\w*|double[- ]charg\w*|refund\w*|reimburs\w*|paid|pay(?:ing|ment)?s?|"
    r"payout\w*|fees?|invoice\w*|billed|billing|money|transaction\w*|transfer\w*|withdraw\w*|deposit\w*|"
    r"top[- ]?up\w*|chargeback\w*|declined|checkout|purchase[sd]?|wallet|balance|paypal|card)\b",
    re.I,
)
"""Money at stake: failed payments and checkouts, charges, refunds, payouts, fees and amounts."""


def puts_money_at_stake(text: str) -> bool:
    return bool(_MONEY.search(text))


def is_blocking(text: str) -> bool:
    return bool(_BLOCKING.search(text.replace("’", "'")))


def _share(flags: Sequence[bool]) -> tuple[float, int]:
    return (sum(flags) / len(flags), len(flags)) if flags else (0.0, 0)


def severity_terms(category: str, items: Sequence[FeedbackItem]) -> list[SeverityTerm]:
    """The terms of a problem's severity, each with a sentence saying what it measured."""
    n = len(items)
    block, _ = _share([is_blocking(i.text) for i in items])
    low, n_r = _share([i.rating <= 2 for i in items if i.rating is not None])
    det, n_nps = _share([i.nps <= 6 for i in items if i.nps is not None])
    unres, n_t = _share(
        [i.ticket_status in ("new", "open", "pending", "hold", "on-hold", "reopened") for i in items if i.ticket_status]
    )
    money, _ = _share([puts_money_at_stake(i.text) for i in items])
    cw = CATEGORY_WEIGHTS.get(category, 0.5)
    return [
        SeverityTerm("category", cw, TERM_WEIGHTS["category"], f"{category} issues weigh {cw:.2f}"),
        SeverityTerm("blocking", block, TERM_WEIGHTS["blocking"], f"{block:.0%} of {n} texts describe being blocked"),
        SeverityTerm("low_rating", low, TERM_WEIGHTS["low_rating"],
                     f"{low:.0%} of {n_r} ratings are 1–2 of 5" if n_r else "no ratings"),
        SeverityTerm("detractors", det, TERM_WEIGHTS["detractors"],
                     f"{det:.0%} of {n_nps} NPS answers are detractors (0–6)" if n_nps else "no NPS answers"),
        SeverityTerm("unresolved", unres, TERM_WEIGHTS["unresolved"],
                     f"{unres:.0%} of {n_t} tickets open, pending or reopened" if n_t else "no ticket status"),
        SeverityTerm("money", money, TERM_WEIGHTS["money"], f"{money:.0%} of texts put money at stake"),
    ]


def severity(terms: Sequence[SeverityTerm]) -> float:
    return round(sum(t.contribution for t in terms), 4)


def growth_factor(observed: float | None, expected: float | None) -> float:
    if observed is None or expected is None or expected <= 0:
        return 1.0
    return 1.0 + min(1.0, max(0.0, (observed / expected - 1.0) / 2.0))


def priority(size: int, sev: float, growth: float = 1.0) -> float:
    return round(sev * math.log2(1 + size) * growth, 4)
