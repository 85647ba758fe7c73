"""Detectors for emails, IBANs and payment cards (stdlib only; phones are in :mod:`pii_phone`).

Each detector takes the text and the spans already claimed by an earlier detector and returns
new ``(start, end)`` spans. Checksums decide where a regex alone would guess: cards need the
Luhn check and a card network's prefix and length, IBANs the ISO 13616 length of their country and the
mod-97 check, so order numbers, invoice ids and tracking numbers are left alone.
"""

from __future__ import annotations

import re

__all__ = ["IBAN_LENGTHS", "find_cards", "find_emails", "find_ibans", "iban_ok", "luhn_ok"]

Span = tuple[int, int]

# --- emails -----------------------------------------------------------------------------------
# Unicode-aware (IDN): local part and domain labels may hold any letter; the TLD is letters
# (any script) or an ACE label (xn--...).
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_EMAIL = re.compile(
    rf"(?<![\w.%+-])[^\W_][\w.%+'-]{{0,63}}@(?:{_LABEL}\.)+(?:[^\W\d_]{{2,63}}|xn--[a-z0-9-]{{2,59}})(?![\w-])",
    re.IGNORECASE,
)


def find_emails(text: str, claimed: list[Span]) -> list[Span]:
    return [m.span() for m in _EMAIL.finditer(text) if not _overlaps(m.span(), claimed)]


# --- IBANs ------------------------------------------------------------------------------------
#: Total IBAN length per country (ISO 13616 registry).
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
    "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ -]?[A-Za-z0-9]){11,30}")


def iban_ok(candidate: str) -> bool:
    """True when ``candidate`` (spaces/dashes allowed) is an IBAN of the right length with mod-97 = 1."""
    s = re.sub(r"[ -]", "", candidate).upper()
    if IBAN_LENGTHS.get(s[:2]) != len(s) or not s.isalnum() or not s.isascii():
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def find_ibans(text: str, claimed: list[Span]) -> list[Span]:
    spans: list[Span] = []
    for m in _IBAN.finditer(text):
        want = IBAN_LENGTHS.get(m.group(0)[:2].upper())
        if want is None:
            continue
        # Trim the greedy match to the country's length (a following word may have been eaten).
        n, end = 0, m.start()
        for end in range(m.start(), m.end()):
            if text[end].isalnum():
                n += 1
                if n == want:
                    break
        end += 1
        if n != want or (end < len(text) and text[end].isalnum()):
            continue
        span = (m.start(), end)
        if iban_ok(text[m.start():end]) and not _overlaps(span, claimed):
            spans.append(span)
    return spans


# --- payment cards ----------------------------------------------------------------------------
# A run of digit groups joined by one space, dot or dash. A card may be glued to letters
# ("visa4111...") but never to other digits.
_CARD_RUN = re.compile(r"(?<!\d)\d(?:[ .-]?\d){12,}(?!\d)")  # 13+ digits
_PREFERRED_LENGTHS = (16, 15, 19, 14, 13, 18, 17)
_FILLER = r"(?:[\s,;:/|-]|\b(?:and|with|the|my)\b)*"
_EXPIRY = re.compile(
    rf"{_FILLER}(?:\b(?:exp(?:iry|ires|iration)?(?:\s+date)?|valid(?:\s+(?:thru|through|until|to))?)\b[\s:.]*)?"
    r"(?:0?[1-9]|1[0-2])\s?[/.-]\s?(?:20\d{2}|\d{2})(?![\d/.:])",
    re.IGNORECASE,
)
_CVV_WORD = r"\b(?:cvv2?|cvc2?|csc|cid|security\s+code)\b"
_CVV_AFTER = re.compile(rf"{_FILLER}(?:{_CVV_WORD}[\s:.#-]*(?:is\s+)?)?\d{{3,4}}(?![ /.:,-]?\d)", re.IGNORECASE)
_CVV_LABELLED = re.compile(rf"{_CVV_WORD}[\s:.#-]*(?:is\s+)?\d{{3,4}}(?!\d)", re.IGNORECASE)


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


def _network_length_ok(d: str) -> bool:
    """Whether a card network issues numbers with this prefix and length (Visa, Mastercard, Amex,
    Discover, JCB, Diners, UnionPay, Maestro, Mir). Excludes year-led runs like 20261110143000."""
    n, p2, p4 = len(d), int(d[:2]), int(d[:4])
    if d[0] == "4":
        return n in (13, 16, 19)
    if d[0] == "5":
        return n == 16 if 51 <= p2 <= 55 else 12 < n <= 19  # Mastercard; Maestro 50, 56–59
    if d[0] == "2":
        return (2221 <= p4 <= 2720 and n == 16) or (2200 <= p4 <= 2204 and 16 <= n <= 19)
    if d[0] == "3":
        if p2 in (34, 37):
            return n == 15
        if 300 <= int(d[:3]) <= 305 or p2 in (36, 38, 39):
            return 14 <= n <= 19
        return 3528 <= p4 <= 3589 and 16 <= n <= 19
    return d[0] == "6" and 16 <= n <= 19


def _card_number(digits: str) -> bool:
    return 13 <= len(digits) <= 19 and _network_length_ok(digits) and luhn_ok(digits)


def _card_in_run(run: str) -> tuple[int, int] | None:
    """``(start, end)`` of a card number within a run of digit groups: whole groups, starting at
    the earliest group that begins one, preferring the usual lengths (16, 15, 19, …)."""
    groups = [(m.start(), m.end()) for m in re.finditer(r"\d+", run)]
    if len(groups) == 1:
        return (0, len(run)) if _card_number(run) else None
    for k, (first, _) in enumerate(groups):
        ends: dict[int, int] = {}
        count = 0
        for start, end in groups[k:]:
            count += end - start
            ends[count] = end
        if count < 13:
            return None
        for n in _PREFERRED_LENGTHS:
            if n in ends and _card_number(re.sub(r"\D", "", run[first:ends[n]])):
                return first, ends[n]
    return None


def _tail(text: str, pos: int) -> int:
    """End of an expiry date and/or CVV written right after a card number."""
    for pattern in (_EXPIRY, _CVV_AFTER):
        m = pattern.match(text, pos)
        if m:
            pos = m.end()
    return pos


def find_cards(text: str, claimed: list[Span]) -> list[Span]:
    spans: list[Span] = []
    for m in _CARD_RUN.finditer(text):
        run, base = m.group(0), m.start()
        while (found := _card_in_run(run)) is not None:  # a run may hold two cards
            span = (base + found[0], _tail(text, base + found[1]))
            if not _overlaps(span, claimed + spans):
                spans.append(span)
            rest = run[span[1] - base:]
            stripped = rest.lstrip(" .-")
            base, run = span[1] + len(rest) - len(stripped), stripped
    for m in _CVV_LABELLED.finditer(text):
        if not _overlaps(m.span(), claimed + spans):
            spans.append(m.span())
    return spans


def _overlaps(span: Span, others: list[Span]) -> bool:
    return any(span[0] < e and s < span[1] for s, e in others)
