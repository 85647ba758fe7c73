"""Personal-data redaction: emails, IBANs, payment cards (with expiry/CVV) and phone numbers.

Applied at ingest, before anything is stored, embedded or shown, and to every text the
``classify`` paths write out. Detectors run in a fixed order (email, IBAN, card, phone); a later
one never touches a span an earlier one claimed. Precision and recall per kind are measured on
``tests/data/redaction_corpus.jsonl`` by ``benchmarks/bench_redaction.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from feedback_miner.domain.pii_detectors import find_cards, find_emails, find_ibans, iban_ok, luhn_ok
from feedback_miner.domain.pii_phone import find_phones

__all__ = [
    "CARD_TOKEN",
    "DETECTORS",
    "EMAIL_TOKEN",
    "IBAN_TOKEN",
    "KINDS",
    "PHONE_TOKEN",
    "TOKENS",
    "Detector",
    "PiiSpan",
    "contains_pii",
    "find_pii",
    "iban_ok",
    "luhn_ok",
    "redact",
]

_DIGIT = re.compile(r"\d")
EMAIL_TOKEN = "[EMAIL]"
PHONE_TOKEN = "[PHONE]"
CARD_TOKEN = "[CARD]"
IBAN_TOKEN = "[IBAN]"
KINDS: tuple[str, ...] = ("email", "iban", "card", "phone")
TOKENS: dict[str, str] = {"email": EMAIL_TOKEN, "iban": IBAN_TOKEN, "card": CARD_TOKEN, "phone": PHONE_TOKEN}

#: ``(text, spans claimed so far) -> new (start, end) spans``
Detector = Callable[[str, list[tuple[int, int]]], list[tuple[int, int]]]
DETECTORS: tuple[tuple[str, Detector], ...] = (
    ("email", find_emails), ("iban", find_ibans), ("card", find_cards), ("phone", find_phones),
)


@dataclass(frozen=True)
class PiiSpan:
    kind: str
    start: int
    end: int


def find_pii(text: str, detectors: Sequence[tuple[str, Detector]] = DETECTORS) -> list[PiiSpan]:
    """Every personal-data span in ``text``, sorted by position, non-overlapping."""
    if "@" not in text and not _DIGIT.search(text):
        return []  # every kind needs an @ or a digit
    claimed: list[tuple[int, int]] = []
    found: list[PiiSpan] = []
    for kind, detect in detectors:
        for start, end in detect(text, claimed):
            claimed.append((start, end))
            found.append(PiiSpan(kind, start, end))
    return sorted(found, key=lambda s: s.start)


def contains_pii(text: str) -> bool:
    """True when ``text`` holds an email, IBAN, card number or phone number."""
    return bool(find_pii(text))


def redact(text: str, detectors: Sequence[tuple[str, Detector]] = DETECTORS) -> str:
    """Replace each personal-data span with its placeholder token (``[EMAIL]``, ``[PHONE]``, …)."""
    spans = find_pii(text, detectors)
    if not spans:
        return text
    out: list[str] = []
    pos = 0
    for s in spans:
        out.append(text[pos:s.start])
        out.append(TOKENS[s.kind])
        pos = s.end
    out.append(text[pos:])
    return "".join(out)
