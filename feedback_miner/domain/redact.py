"""Personal-data redaction: emails, phone numbers and payment-card numbers.

Applied at ingest, before anything is stored, embedded or shown. Card numbers are recognised
by length (13–19 digits, spaces or dashes allowed) and the Luhn checksum, so order numbers and
error codes are left alone; phone numbers need 7–15 digits with a phone-like shape.
"""

from __future__ import annotations

import re

__all__ = ["redact", "luhn_ok", "EMAIL_TOKEN", "PHONE_TOKEN", "CARD_TOKEN"]

EMAIL_TOKEN = "[EMAIL]"
PHONE_TOKEN = "[PHONE]"
CARD_TOKEN = "[CARD]"

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<![\w-])(?:\d[ -]?){12,18}\d(?![\w-])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{1,4}\)[\s.\-]?)?\d{2,4}(?:[\s.\-]?\d{2,4}){1,4}(?![\w])"
)


def luhn_ok(digits: str) -> bool:
    """True when a digit string passes the Luhn checksum."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and luhn_ok(digits):
        return CARD_TOKEN
    return match.group(0)


def _phone(match: re.Match[str]) -> str:
    raw = match.group(0)
    digits = re.sub(r"\D", "", raw)
    has_sep = bool(re.search(r"[\s.\-()]", raw)) or raw.startswith("+")
    if 7 <= len(digits) <= 15 and (has_sep or len(digits) >= 10):
        # Leave dates, times, versions and amounts alone.
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw) or re.fullmatch(r"\d+\.\d+(\.\d+)*", raw):
            return raw
        return PHONE_TOKEN
    return raw


def redact(text: str) -> str:
    """Replace emails, payment-card numbers and phone numbers with placeholder tokens."""
    text = _EMAIL.sub(EMAIL_TOKEN, text)
    text = _CARD.sub(_card, text)
    text = _PHONE.sub(_phone, text)
    return text
