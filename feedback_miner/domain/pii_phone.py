"""Phone-number detector: a candidate regex, then rules on the number's shape and the words before it.

A candidate is a run of digits joined by spaces, dots, dashes, slashes or parentheses. It is a
phone number when it is written internationally (``+`` or ``00``, 7–15 digits), nationally with a
trunk ``0`` (9–12 digits), with a parenthesised area code, in a North-American shape
(``555.123.4567``, ``1-800-555-0199``, ``555-0134``, ten bare digits with a valid area code), or
when a phone word (call, tel, mobile, …) stands just before it. It is *not* one when it is glued
to a code (``INV-2026-000123``, ``PP-1002``), is a date or a time (``2026-11-10 14:30``), or
follows an identifier word (``order #1234567890``, ``tracking``, ``SKU``, ``ticket``).
"""

from __future__ import annotations

import re

__all__ = ["find_phones"]

Span = tuple[int, int]

_CANDIDATE = re.compile(
    r"(?<![\w+@])(?<![A-Za-z0-9]-)(?<!\d[./:,])(?:\+|\(\+?|\()?\d(?:[ \u00a0.\-/()]{1,3}\d|\d)*(?![\w@])"
)
_DATE = re.compile(
    r"\b(?:(?:19|20)\d{2}[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])"
    r"|(?:0?[1-9]|[12]\d|3[01])[-/.](?:0?[1-9]|1[0-2])[-/.](?:(?:19|20)\d{2}|\d{2}))(?![.\-/]?\d)"
)
_PHONE_WORDS = re.compile(
    r"\b(?:call(?:ed)?|phone|ph|tel|telephone|telefon|téléphone|mobile?|cell|handy|portable|móvil|"
    r"whatsapp|sms|text|ring|dial|fax|landline|festnetz|number|numéro|numero|número|nummer|reach|contact)\b"
    r"[^\w\n]*(?:\w+[^\w\n]+){0,3}$",
    re.IGNORECASE,
)
_ID_WORDS = re.compile(
    r"(?:#|\b(?:order|orders|invoice|inv|ref|reference|tracking|ticket|case|sku|id|serial|imei|po|item|part|"
    r"batch|build|version|transaction|txn|receipt|parcel|shipment|isbn|ean|gtin|zip|postcode)\b)"
    r"[^\w\n]{0,3}(?:number|no|nr)?[^\w\n]{0,3}$",
    re.IGNORECASE,
)
_NANP_10 = re.compile(r"1?[2-9]\d{2}[2-9]\d{6}")


def _groups(candidate: str) -> list[str]:
    return re.findall(r"\d+", candidate)


def _is_phone_shape(c: str, digits: str) -> bool:
    n = len(digits)
    if c.startswith(("+", "(+")):
        return 7 <= n <= 15
    if c.startswith("00") and c[2:3] not in ("", "0"):
        return 7 <= n - 2 <= 15
    groups = _groups(c)
    sizes = [len(g) for g in groups]
    if c.startswith("(") and re.match(r"\(\d{2,5}\)", c):
        return 7 <= n <= 12
    if c.startswith("0") and not c.startswith("00"):
        return 9 <= n <= 12
    seps = set(re.findall(r"[^\d]+", c))
    if seps <= {" ", ".", "-"} and len(seps) <= 2:
        if sizes == [3, 3, 4] or (sizes == [1, 3, 3, 4] and groups[0] == "1"):
            return True
        if sizes == [3, 4] and seps <= {".", "-"}:
            return True
    return len(groups) == 1 and bool(_NANP_10.fullmatch(digits))


def _in_date_or_time(text: str, start: int, end: int) -> bool:
    if _DATE.search(text, start, end):
        return True
    after = text[end:end + 2]
    return len(after) == 2 and after[0] == ":" and after[1].isdigit()


def _phone_span(text: str, start: int, end: int, claimed: list[Span]) -> Span | None:
    """The candidate ``text[start:end]`` as a phone span, or None when it is not one."""
    c = text[start:end]
    if c.startswith("(") and ")" not in c:
        start, c = start + 1, c[1:]
    digits = re.sub(r"\D", "", c)
    if not 7 <= len(digits) <= 15 + 2 or any(start < e and s < end for s, e in claimed):
        return None
    intl = c.startswith(("+", "(+")) or (c.startswith("00") and c[2:3] not in ("", "0"))
    if _DATE.fullmatch(c.lstrip("+(")) or (not intl and _in_date_or_time(text, start, end)):
        return None
    before = text[max(0, start - 40):start]
    if not intl and _ID_WORDS.search(before):
        return None
    if _is_phone_shape(c, digits) or (len(digits) <= 15 and _PHONE_WORDS.search(before)):
        return start, end
    return None


def find_phones(text: str, claimed: list[Span]) -> list[Span]:
    spans: list[Span] = []
    for m in _CANDIDATE.finditer(text):
        found = _phone_span(text, m.start(), m.end(), claimed)
        if found is None and "/" in m.group(0):
            # numbers listed with a slash ("555.123.4567 / 555.987.6543") form one candidate: judge each part
            for part in re.finditer(r"[^/\s](?:[^/]*[^/\s])?", m.group(0)):
                one = _phone_span(text, m.start() + part.start(), m.start() + part.end(), claimed + spans)
                if one is not None:
                    spans.append(one)
        elif found is not None:
            spans.append(found)
    return spans
