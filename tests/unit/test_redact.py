from __future__ import annotations

import pytest

from feedback_miner.domain.redact import CARD_TOKEN, EMAIL_TOKEN, PHONE_TOKEN, luhn_ok, redact


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("write to jane.doe+shop@example.co.uk please", EMAIL_TOKEN),
        ("card 4111 1111 1111 1111 was declined", CARD_TOKEN),
        ("card 5500-0000-0000-0004 was declined", CARD_TOKEN),
        ("call me on +44 7700 900123", PHONE_TOKEN),
        ("call (555) 010-4477 after 5", PHONE_TOKEN),
        ("my number is 07700900123", PHONE_TOKEN),
        ("ring +44 20 7946 0958 today", PHONE_TOKEN),
    ],
)
def test_personal_data_is_replaced(text: str, token: str) -> None:
    out = redact(text)
    assert token in out
    assert not any(ch.isdigit() for ch in out.split(token)[0][-3:])


@pytest.mark.parametrize(
    "text",
    ["error PAY-402 on order 123456", "updated to version 5.3.1 on 2026-11-03", "paid 1,299.00 at 10:30",
     "4111 1111 1111 1112 is not a valid card"],
)
def test_ordinary_numbers_are_kept(text: str) -> None:
    assert redact(text) == text


def test_luhn() -> None:
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
