"""Redaction of each personal-data kind in the formats users write, and the look-alikes that survive."""

from __future__ import annotations

import re

import pytest

from feedback_miner.domain.redact import (
    CARD_TOKEN,
    EMAIL_TOKEN,
    IBAN_TOKEN,
    PHONE_TOKEN,
    contains_pii,
    find_pii,
    iban_ok,
    luhn_ok,
    redact,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jane.doe+shop@example.co.uk please", f"write to {EMAIL_TOKEN} please"),
        ("JANE.DOE@EXAMPLE.COM cannot log in", f"{EMAIL_TOKEN} cannot log in"),
        ("Kontakt: jörg@müller.de, bitte", f"Kontakt: {EMAIL_TOKEN}, bitte"),
        ("card 4111 1111 1111 1111 was declined", f"card {CARD_TOKEN} was declined"),
        ("card 5500-0000-0000-0004 was declined", f"card {CARD_TOKEN} was declined"),
        ("paid with 4111.1111.1111.1111 today", f"paid with {CARD_TOKEN} today"),
        ("paid with visa4111111111111111 today", f"paid with visa{CARD_TOKEN} today"),
        ("card 4111 1111 1111 1111 05/27 charged twice", f"card {CARD_TOKEN} charged twice"),
        ("use 4111111111111111 123 please", f"use {CARD_TOKEN} please"),
        ("my cvv 737 is rejected", f"my {CARD_TOKEN} is rejected"),
        ("paid 2 4111 1111 1111 1111 05/27", f"paid 2 {CARD_TOKEN}"),
        ("4111 1111 1111 1111 5555 5555 5555 4444", f"{CARD_TOKEN} {CARD_TOKEN}"),
        ("cards 4111111111111111, 5555555555554444.", f"cards {CARD_TOKEN}, {CARD_TOKEN}."),
        ("refund to DE89370400440532013000 now", f"refund to {IBAN_TOKEN} now"),
        ("IBAN GB82 WEST 1234 5698 7654 32 please", f"IBAN {IBAN_TOKEN} please"),
        ("call me on 555.123.4567", f"call me on {PHONE_TOKEN}"),
        ("appelez le +33 6 12 34 56 78 svp", f"appelez le {PHONE_TOKEN} svp"),
        ("call me on +44 7700 900123", f"call me on {PHONE_TOKEN}"),
        ("call (555) 010-4477 after 5", f"call {PHONE_TOKEN} after 5"),
        ("my number is 07700900123", f"my number is {PHONE_TOKEN}"),
        ("ring +44 20 7946 0958 today", f"ring {PHONE_TOKEN} today"),
    ],
)
def test_personal_data_is_replaced(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    ["error PAY-402 on order 123456", "updated to version 5.3.1 on 2026-11-03", "paid 1,299.00 at 10:30",
     "4111 1111 1111 1112 is not a valid card", "order #1234567890 never came", "invoice INV-2026-000123",
     "since 2026-11-10 14:30", "error PP-1002", "tracking 1Z999AA10123456784", "log 20261110143000 ok"],
)
def test_ordinary_numbers_are_kept(text: str) -> None:
    assert redact(text) == text


def test_two_kinds_in_one_text_and_positions() -> None:
    text = "jane@example.com, +49 30 901820 and DE89 3704 0044 0532 0130 00"
    assert [s.kind for s in find_pii(text)] == ["email", "phone", "iban"]
    assert redact(text) == f"{EMAIL_TOKEN}, {PHONE_TOKEN} and {IBAN_TOKEN}"


def test_redaction_is_idempotent_and_leaves_no_digits_of_the_number() -> None:
    once = redact("card 3782 822463 10005 exp 11/29 cvv 1234, call 020 7946 0958")
    assert redact(once) == once
    assert not re.search(r"\d{3}", once)


def test_contains_pii() -> None:
    assert contains_pii("jane@example.com") and contains_pii("+33612345678")
    assert not contains_pii("cust-8812") and not contains_pii("zd-1234567")


def test_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("DE89 3704 0044 0532 0130 00") and not iban_ok("DE88370400440532013000")
    assert not iban_ok("DE8937040044053201300")  # one character short for Germany
