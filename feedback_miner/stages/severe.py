"""Severe texts that joined no problem: listed every week under their own heading, so nothing
severe disappears in a small week (money lost, a blocked payment, a locked-out customer, safety).

Pure: :func:`severe_unclustered` takes the run's items, their effective categories and each item's
problem id (``None`` = joined no problem) and returns the severe ones, most severe first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from feedback_miner.domain.types import FeedbackItem
from feedback_miner.errors import InputError

__all__ = ["SEVERE_REASONS", "SevereText", "severe_reason", "severe_unclustered"]


@dataclass(frozen=True)
class SevereText:
    """One severe text outside every problem: why it is severe, its category and its (redacted) quote."""

    item_id: int | None
    category: str
    reason: str
    quote: str


_N = r"(?:n'?t|not|never|no)"
SEVERE_REASONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("safety", re.compile(
        r"\b(unsafe|dangerous|hazard\w*|fire|caught fire|burn(?:ed|t|s|ing)?|injur\w*|hurt|smok(?:e|ing)|"
        r"electric shock|shocked|explod\w*|overheat\w*|choking|poison\w*|harass\w*|threat\w*|stalk\w*|assault\w*)\b",
        re.IGNORECASE)),
    ("money lost", re.compile(
        r"\b(charged (?:me )?(?:twice|two times|double|again)|double[- ]charged|overcharged|charged for nothing|"
        r"unauthori[sz]ed (?:charge|payment|transaction|withdrawal)s?|money (?:is |was |has )?(?:gone|missing|taken|"
        r"lost|stolen|deducted|disappeared)|(?:lost|stolen) (?:my )?money|scam\w*|fraud\w*|"
        rf"(?:refund|payout|money back|reimbursement) (?:has |have |is )?(?:{_N}|still not|yet to)\w* "
        r"(?:been )?(?:received|arrived|come|paid|showed up|showing)|"
        rf"(?:{_N}) (?:received|got(?:ten)?) (?:my |the |a )?(?:refund|payout|money back)|"
        r"paid but (?:never|not|no|nothing))\b", re.IGNORECASE)),
    ("payment blocked", re.compile(
        r"\b(?:(?:can'?t|cannot|unable to|not able to|won'?t let me) (?:pay|check ?out|complete (?:the |my )?(?:payment|"
        r"purchase|checkout|order))|(?:card|payment|transaction|checkout|paypal)\w* (?:was |is |keeps |got )?"
        r"(?:declined|rejected|refused|fail(?:s|ed|ing)?|blocked|won'?t go through|not going through))\b", re.IGNORECASE)),
    ("locked out", re.compile(
        r"\b(locked out|lock(?:ed)? me out|(?:can'?t|cannot|not able to) (?:log ?in|login|sign ?in|access my account|get into my account)|"
        r"unable to (?:log ?in|login|sign ?in|access)|account (?:is |was |got |has been )?(?:locked|blocked|suspended|"
        r"disabled|hacked|compromised|banned|closed without)|hacked|lost access)\b", re.IGNORECASE)),
)
_RANK = {name: n for n, (name, _) in enumerate(SEVERE_REASONS)}


def severe_reason(text: str) -> str | None:
    """The first severe reason the text gives (in :data:`SEVERE_REASONS` order), or ``None``."""
    t = text.replace("’", "'")
    return next((name for name, rx in SEVERE_REASONS if rx.search(t)), None)


def _quote(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + " …"


def severe_unclustered(
    items: Sequence[FeedbackItem],
    categories: Sequence[str],
    problem_of: Sequence[str | None],
    *,
    limit: int = 10,
    quote_chars: int = 240,
) -> list[SevereText]:
    """Severe texts among those that joined no problem, most severe reason first (then input order);
    at most ``limit``, one per distinct quote. ``other`` texts count too: a safety report the
    classifier missed is still a safety report."""
    if not len(items) == len(categories) == len(problem_of):
        raise InputError(
            f"items ({len(items)}), categories ({len(categories)}) and problem_of ({len(problem_of)}) must align")
    if limit < 0:
        raise InputError(f"limit must be >= 0, got {limit}")
    found: list[tuple[int, int, SevereText]] = []
    seen: set[str] = set()
    for n, (item, cat, pid) in enumerate(zip(items, categories, problem_of)):
        if pid is not None:
            continue
        reason = severe_reason(item.text)
        quote = _quote(item.text, quote_chars)
        if reason is None or quote.lower() in seen:
            continue
        seen.add(quote.lower())
        found.append((_RANK[reason], n, SevereText(item.id, cat, reason, quote)))
    found.sort(key=lambda f: (f[0], f[1]))
    return [f[2] for f in found[:limit]]
