"""Generated cases beyond the hand-written corpus: every valid card/IBAN/email in any usual
layout is redacted; dates, timestamps, versions, invoice ids and error codes never are."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from feedback_miner.domain.redact import CARD_TOKEN, EMAIL_TOKEN, IBAN_TOKEN, redact

settings.register_profile("redact", max_examples=300, deadline=None)
settings.load_profile("redact")


def _luhn_complete(body: str) -> str:
    for check in "0123456789":
        d = body + check
        s = sum(int(c) if i % 2 == 0 else sum(divmod(2 * int(c), 10)) for i, c in enumerate(reversed(d)))
        if s % 10 == 0:
            return d
    raise AssertionError("unreachable")


@st.composite
def cards(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["4", "51", "55", "2221", "6011", "65", "3528"]))
    body = prefix + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=15 - len(prefix),
                                          max_size=15 - len(prefix))))
    number = _luhn_complete(body)
    sep = draw(st.sampled_from(["", " ", "-", "."]))
    return sep.join(number[i:i + 4] for i in range(0, 16, 4))


@given(cards(), st.sampled_from(["card {} declined", "{}", "paid with visa{} ok", "({}) twice", "use {} 05/27 please"]))
def test_every_valid_card_is_redacted(card: str, template: str) -> None:
    out = redact(template.format(card))
    assert CARD_TOKEN in out and not re.search(r"\d{4}", out), out


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country, n = draw(st.sampled_from([("DE", 18), ("FR", 23), ("NL", 14), ("ES", 20), ("IT", 23), ("BE", 12)]))
    bban = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=n, max_size=n)))
    num = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    iban = f"{country}{98 - num % 97:02d}{bban}"
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4)) if draw(st.booleans()) else iban


@given(ibans())
def test_every_valid_iban_is_redacted(iban: str) -> None:
    assert redact(f"refund to {iban} please") == f"refund to {IBAN_TOKEN} please"


_local = st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9._+-]{0,15}[a-zA-Z0-9]", fullmatch=True)
_label = st.from_regex(r"[a-zäöüéèàçñ0-9]([a-zäöüéèàçñ0-9-]{0,10}[a-zäöüéèàçñ0-9])?", fullmatch=True)


@given(_local, st.lists(_label, min_size=1, max_size=3), st.sampled_from(["com", "de", "co.uk", "org", "рф"]))
def test_every_email_is_redacted(local: str, labels: list[str], tld: str) -> None:
    email = f"{local}@{'.'.join(labels)}.{tld}"
    assert redact(f"mail {email}, thanks") == f"mail {EMAIL_TOKEN}, thanks"


_times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))


@given(_times, st.sampled_from(["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%SZ", "%d/%m/%Y", "%d.%m.%Y %H:%M",
                                "%Y-%m-%d", "%m/%d/%y at %H:%M", "%Y/%m/%d %H:%M:%S"]))
def test_dates_and_timestamps_survive(t: datetime, fmt: str) -> None:
    text = f"since {t.strftime(fmt)} it fails"
    assert redact(text) == text


@given(st.integers(2000, 2099), st.integers(1, 999_999), st.from_regex(r"[A-Z]{2,4}", fullmatch=True),
       st.integers(1, 99_999), st.tuples(st.integers(0, 40), st.integers(0, 99), st.integers(0, 999)))
def test_ids_codes_and_versions_survive(year: int, n: int, code: str, err: int, ver: tuple[int, int, int]) -> None:
    text = (f"INV-{year}-{n:06d} and {code}-{err} on version {ver[0]}.{ver[1]}.{ver[2]}, "
            f"order #{n * 1000 + err}, total {n / 100:,.2f}")
    assert redact(text) == text


@given(_times, st.integers(1, 600))
def test_time_ranges_survive(t: datetime, minutes: int) -> None:
    text = f"between {t:%Y-%m-%d %H:%M} - {t + timedelta(minutes=minutes):%Y-%m-%d %H:%M}"
    assert redact(text) == text
