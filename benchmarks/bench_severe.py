"""Severe reports: how often the digest's "severe reports that joined no problem" are right.

    python benchmarks/bench_severe.py [--data ../shared/data] [--out benchmarks/results/severe.json]

``stages.severe.severe_reason`` names why a text is severe (safety, money lost, payment blocked,
locked out). Two measures, per reason and in all:

* **real app reviews** (review_pulse, google_play 4-class, idea_youtube): 226 texts labelled by hand
  in ``benchmarks/severe_labels.csv`` (source, SHA-1 of the text, the reason or empty). They are
  every text the rules before 2026-12-03 flagged, plus 90 texts drawn (``random.Random(3)``) among
  those that mention money, logging in, an account, fire, harm and the like and were not flagged.
  One reviewer labelled them, with these meanings: *money lost* = the customer's money was taken,
  charged wrongly, not refunded or not credited; *payment blocked* = a payment or checkout cannot be
  made; *locked out* = the customer cannot get into their own account (cannot log in, banned,
  suspended, hacked); *safety* = risk of physical harm (fire, overheating, shock, injury), harassment
  or threats, or a customer who says the product is unsafe or dangerous; eye strain, opinions ("a
  scam", "scammy") and warnings about other people are none of these. Only the hashes are kept here
  (google_play's licence allows no copy); the texts are read from the shared data. These texts were
  read while the rules were written: a development set, not a held-out one.
* **support messages** (banking77 test split, never read while writing the rules; the train split
  was): the reason implied by the intent — ``transaction_charged_twice``, the three
  ``*_not_recognised`` intents, ``Refund_not_showing_up`` and ``wrong_amount_of_cash_received`` =
  money lost, ``declined_card_payment`` / ``declined_transfer`` = payment blocked — as recall, and
  the share of 18 plainly non-severe intents (age limit, exchange rates, ordering a card, ...) that is
  flagged, as false alarms.

Run it from another checkout (``PYTHONPATH=/tmp/base``) to compare two versions of the rules.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feedback_miner.stages.evaluation import flag_quality
from feedback_miner.stages.severe import severe_reason

HERE = Path(__file__).resolve().parent
REVIEW_FILES = {
    "review_pulse": "review_pulse/review_pulse.csv",
    "google_play": "google_play_app_reviews_4class/google_play_app_reviews_4class.csv",
    "idea_youtube": "idea_youtube_reviews/idea_youtube_reviews.csv",
}
SEVERE_INTENTS = {
    "transaction_charged_twice": "money lost", "card_payment_not_recognised": "money lost",
    "cash_withdrawal_not_recognised": "money lost", "direct_debit_payment_not_recognised": "money lost",
    "Refund_not_showing_up": "money lost", "wrong_amount_of_cash_received": "money lost",
    "declined_card_payment": "payment blocked", "declined_transfer": "payment blocked",
}
CALM_INTENTS = [
    "age_limit", "apple_pay_or_google_pay", "atm_support", "change_pin", "country_support", "exchange_rate",
    "fiat_currency_support", "get_physical_card", "order_physical_card", "supported_cards_and_currencies",
    "top_up_limits", "visa_or_mastercard", "getting_virtual_card", "card_about_to_expire", "receiving_money",
    "transfer_timing", "exchange_via_app", "edit_personal_details",
]


def score(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Precision and recall per reason of (text, true reason or '') pairs."""
    return flag_quality([t for _, t in pairs], [severe_reason(text) or "" for text, _ in pairs])


def reviews(data: Path) -> list[tuple[str, str]]:
    by_hash: dict[tuple[str, str], str] = {}
    with (HERE / "severe_labels.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            by_hash[(row["source"], row["text_sha1"])] = row["label"]
    pairs: list[tuple[str, str]] = []
    found: set[tuple[str, str]] = set()
    for source, rel in REVIEW_FILES.items():
        with (data / rel).open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                text = row["text"].strip()
                key = (source, hashlib.sha1(text.encode()).hexdigest())
                if key in by_hash and key not in found:
                    found.add(key)
                    pairs.append((text, by_hash[key]))
    if len(found) != len(by_hash):
        sys.exit(f"{len(by_hash) - len(found)} labelled texts not found under {data}: is it the shared data set?")
    return pairs


def banking77(data: Path) -> dict[str, Any]:
    texts: dict[str, list[str]] = defaultdict(list)
    with (data / "banking77/banking77.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["split"] == "test":
                texts[row["label"]].append(row["text"])
    hits = {intent: [severe_reason(t) == reason for t in texts[intent]] for intent, reason in SEVERE_INTENTS.items()}
    per_intent = {intent: round(sum(h) / len(h), 3) for intent, h in hits.items()}
    n_severe = sum(len(h) for h in hits.values())
    calm = [t for intent in CALM_INTENTS for t in texts[intent]]
    flagged = [t for t in calm if severe_reason(t)]
    return {"severe_texts": n_severe, "recall": round(sum(sum(h) for h in hits.values()) / n_severe, 3),
            "recall_per_intent": per_intent, "calm_texts": len(calm),
            "calm_flagged_share": round(len(flagged) / len(calm), 4), "calm_flagged_examples": flagged[:10]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "severe.json")
    args = ap.parse_args()
    result: dict[str, Any] = {
        "benchmark": "severe", "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python " + " ".join(sys.argv),
        "reviews": score(reviews(args.data)),
        "banking77": banking77(args.data),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    r: dict[str, Any] = result["reviews"]
    b: dict[str, Any] = result["banking77"]
    for reason, s in r.items():
        print(f"reviews  {reason:16s} flagged {s['flagged']:3d}  precision {s['precision']}  recall {s['recall']}")
    print(f"banking77 recall {b['recall']} of {b['severe_texts']} severe-intent texts; "
          f"calm intents flagged {b['calm_flagged_share']:.2%} of {b['calm_texts']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
