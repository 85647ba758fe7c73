"""The severe-unclustered picker and the recommended-action builder (pure functions)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from feedback_miner.domain.scoring import puts_money_at_stake
from feedback_miner.domain.types import FeedbackItem, Problem
from feedback_miner.errors import InputError
from feedback_miner.stages.actions import recommended_action, run_breakdowns
from feedback_miner.stages.severe import SevereText, severe_reason, severe_unclustered

T0 = datetime(2026, 11, 17, tzinfo=UTC)


def _item(n: int, text: str, **kw: object) -> FeedbackItem:
    return FeedbackItem(text=text, source="t", external_id=str(n), created_at=T0, id=n, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "reason"), [
    ("I was charged twice for one order", "money lost"),
    ("My refund has still not arrived after three weeks", "money lost"),
    ("My card was declined at checkout", "payment blocked"),
    ("Can't pay with PayPal anymore", "payment blocked"),
    ("I'm locked out of my account since the update", "locked out"),
    ("Cannot log in, the code never comes", "locked out"),
    ("The charger I bought caught fire", "safety"),
    ("Love the new design", None),
    ("Search is a bit slow today", None),
    # words that name an emoji, eye strain, an opinion or a device, not a severe report (real reviews)
    ("All i see when i open is a fire emoji", None),
    ("The captions are so small my eyes hurt", None),
    ("Don't buy the plus plan, this is a BIG scam", None),
    ('I keep getting a message "unable to access camera"', None),
    ("No ad harassment and lots of freedom", None),
    ("Brilliant app, TuneIn always had me hacked off", None),
    ("Got a shock when I saw the shipping price", None),
    ("My inbox exploded with notifications", None),
    ("I got hot deals on trainers here", None),
    ("The app keeps choking on large photos", None),
    ("The power bank I bought exploded while charging", "safety"),
    # marketplace wording from a review of these rules (2026-12-03)
    ("My refund hasn't arrived yet", "money lost"),
    ("I haven't been paid for items I sold", "money lost"),
    ("Payouts have been on hold for a month", "money lost"),
    ("I paid for the item but never received it", "money lost"),
    ("My payment was declined but I was still charged", "money lost"),
    ("I can't cancel my subscription", "money lost"),
    ("Couldn't log in for a week", "locked out"),
    ("Having trouble logging in", "locked out"),
    ("Can't sign into my account", "locked out"),
    ("PayPal isn't working at checkout", "payment blocked"),
    ("Payment failure every time", "payment blocked"),
    ("A seller keeps harassing me with messages", "safety"),
    ("My refund is now showing, thanks!", None),
    ("I can't see the refund policy anywhere", None),
    ("The cardigan I returned was rejected", None),
    ("I made an offer and it was declined", None),
    ("The seller keeps declining my offers", None),
    ("I have to charge my phone twice a day", None),
    ("Never made a purchase this easy before", None),
    ("the seller was banned from the forum", None),
    ("Do not buy hacked accounts on this site", None),
    ("It shocked me how rude the seller was", None),
    ("I listed it and my sales exploded", None),
    ("My sales were hurt by the new search algorithm", None),
    ("I got hot sauce from this shop", None),
    # support wording the rules before 2026-12-03 missed (banking77 style)
    ("I see a duplicate payment on my card for one order", "money lost"),
    ("There is a payment on my statement that I never made", "money lost"),
    ("I returned the shoes but can't see my refund", "money lost"),
    ("My card payment didn't go through at checkout", "payment blocked"),
    ("They keep suspending my account for no reason", "locked out"),
    ("The app won't let me log in since the update", "locked out"),
    ("My phone gets incredibly hot with the app open", "safety"),
])
def test_severe_reason(text: str, reason: str | None) -> None:
    assert severe_reason(text) == reason


def test_only_unclustered_severe_texts_are_listed_most_severe_first() -> None:
    items = [_item(1, "Search is slow"), _item(2, "I was charged twice for my order"),
             _item(3, "The heater I bought caught fire"), _item(4, "My card was declined at checkout"),
             _item(5, "I was charged twice for my order"), _item(6, "charged twice again")]
    got = severe_unclustered(items, ["technical", "payment", "other", "payment", "payment", "payment"],
                             [None, None, None, "payment-01", None, None])
    assert got == [
        SevereText(3, "other", "safety", "The heater I bought caught fire"),
        SevereText(2, "payment", "money lost", "I was charged twice for my order"),
        SevereText(6, "payment", "money lost", "charged twice again"),
    ]  # item 4 is in a problem; item 5 repeats item 2's quote


def test_severe_unclustered_rejects_misaligned_input() -> None:
    with pytest.raises(InputError, match="must align"):
        severe_unclustered([_item(1, "x")], [], [None])


def test_money_at_stake_covers_failed_payments_refunds_and_payouts() -> None:
    for text in ("Card declined at checkout", "PayPal payment fails with PP-1002", "Still waiting for my payout",
                 "No refund yet"):
        assert puts_money_at_stake(text), text
    assert not puts_money_at_stake("The app crashes when I open my orders")


def _problem(**kw: object) -> Problem:
    base: dict[str, object] = {"id": "payment-01", "category": "payment", "title": "PayPal payment fails",
                               "keywords": [], "member_ids": list(range(12)), "quotes": []}
    return Problem(**{**base, **kw})  # type: ignore[arg-type]


def test_action_names_the_concentrated_version_the_code_and_the_team() -> None:
    run = [_item(n, "x", app_version="5.3" if n < 20 else "5.2") for n in range(100)]
    p = _problem(breakdowns={"app_version": {"5.3": 10, "5.2": 2}}, error_codes=["PP-1002 (9)"], status="growing")
    a = recommended_action(p, run_breakdowns(run))
    assert a.team == "Payments" and a.urgent and a.error_code == "PP-1002"
    assert "app version 5.3 (83% of reports vs 20% overall)" in a.text
    assert "PP-1002 (9 of 12 reports quote it)" in a.text
    assert "schedule a fix" not in a.text


def test_action_does_not_invent_a_concentration() -> None:
    run = [_item(n, "x", device="iPhone" if n % 2 else "Pixel") for n in range(100)]
    p = _problem(category="shipping", breakdowns={"device": {"iPhone": 6, "Pixel": 6}}, status="steady")
    a = recommended_action(p, {"device": Counter(i.device for i in run)})
    assert a.evidence == [] and not a.urgent and a.team == "Fulfilment & logistics"
    assert "read the quotes" in a.text
