"""Rebuild the small data slices the notebooks read (``notebooks/data/*.csv``).

The slices are committed so the notebooks run on a clean clone (CI has no ``/work/shared/data``);
this script makes them reproducible from the shared public data::

    python notebooks/make_slices.py [--data /work/shared/data] [--check]

Only sets whose licences allow redistribution are sliced (see ``notebooks/data/SOURCE.md``):
banking77 (CC BY 4.0), review_pulse (MIT), idea_youtube_reviews (MIT). bitext_customer_support and
google_play_app_reviews_4class state no licence, so nothing of them is committed. Texts that also
appear in the classifier's seed examples (``models/seeds``) are left out, so the classifier is
never scored on its own training texts. Sampling uses fixed seeds: the same input gives the same
slices.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "notebooks" / "data"

# Notebook 1: a mixed sample for the shipped classifier (per source: category6 -> texts).
CLASSIFIER_QUOTA = {
    "banking77": {"payment": 40, "account": 40, "shipping": 40, "other": 40},
    "review_pulse": {"technical": 40, "user_interface": 40, "other": 40},
}
UNLABELLED_QUOTA = 60  # idea_youtube_reviews: real reviews with no labels

# Notebook 2: banking77 intents over two weeks (texts per intent per week); 0 = absent that week.
# Chosen to hold near neighbours (pending_transfer / transfer_not_received_by_recipient,
# request_refund / Refund_not_showing_up, change_pin / pin_blocked, card_arrival /
# card_delivery_estimate), one intent that stops (card_payment_fee_charged), one that starts
# (lost_or_stolen_card) and one that grows (transaction_charged_twice).
WEEKS = ("2026-W10", "2026-W11")
WEEKLY_PLAN: dict[str, tuple[int, int]] = {
    "card_payment_fee_charged": (20, 0),
    "transaction_charged_twice": (12, 36),
    "pending_transfer": (20, 20),
    "transfer_not_received_by_recipient": (20, 20),
    "request_refund": (20, 20),
    "Refund_not_showing_up": (16, 16),
    "change_pin": (20, 20),
    "pin_blocked": (16, 16),
    "lost_or_stolen_card": (0, 24),
    "edit_personal_details": (20, 20),
    "card_arrival": (20, 20),
    "card_delivery_estimate": (16, 16),
    "apple_pay_or_google_pay": (20, 20),
    "atm_support": (16, 16),
}


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def _seed_texts() -> set[str]:
    return {_key(r["text"]) for p in sorted((ROOT / "models" / "seeds").glob("*.csv")) for r in _read(p)}


def _render(fields: list[str], rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _write(path: Path, text: str, *, check: bool) -> bool:
    """Write the slice, or with ``check`` only compare it with the committed file; True if equal."""
    name = path.relative_to(ROOT)
    if check:
        same = path.exists() and path.read_text(encoding="utf-8") == text
        print(f"{name}: {'up to date' if same else 'DIFFERS from what the script makes'}")
        return same
    path.write_text(text, encoding="utf-8", newline="")
    print(f"{name}: {path.stat().st_size / 1024:.0f} KB")
    return True


def classifier_sample(data: Path, seeds: set[str]) -> list[dict[str, str]]:
    rng = random.Random(12)
    rows: list[dict[str, str]] = []
    for source, quota in CLASSIFIER_QUOTA.items():
        pool = _read(data / source / f"{source}.csv")
        if source == "banking77":
            pool = [r for r in pool if r["split"] == "test"]  # notebook 2 uses the train split
        by_cat: dict[str, list[dict[str, str]]] = defaultdict(list)
        for r in pool:
            if _key(r["text"]) not in seeds and r["text"].strip():
                by_cat[r["category6"]].append(r)
        for cat, n in quota.items():
            for r in rng.sample(by_cat[cat], n):
                rows.append({"source": source, "text": r["text"], "label": r["label"], "category6": cat})
    idea = [r for r in _read(data / "idea_youtube_reviews" / "idea_youtube_reviews.csv") if r["text"].strip()]
    for r in rng.sample(idea, UNLABELLED_QUOTA):
        rows.append({"source": "idea_youtube_reviews", "text": r["text"], "label": "", "category6": ""})
    return rows


def banking77_weeks(data: Path, seeds: set[str]) -> list[dict[str, str]]:
    rng = random.Random(13)
    by_label: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in _read(data / "banking77" / "banking77.csv"):
        if r["split"] == "train" and r["label"] in WEEKLY_PLAN and _key(r["text"]) not in seeds:
            by_label[r["label"]].append(r)
    rows: list[dict[str, str]] = []
    for label, counts in WEEKLY_PLAN.items():
        picked = rng.sample(by_label[label], sum(counts))
        start = 0
        for week, n in zip(WEEKS, counts, strict=True):
            for r in picked[start : start + n]:
                rows.append({"week": week, "text": r["text"], "label": label, "category6": r["category6"]})
            start += n
    rows.sort(key=lambda r: (r["week"], r["category6"], r["label"], r["text"]))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"), help="the shared data folder")
    ap.add_argument("--check", action="store_true", help="only check the committed slices are what this makes")
    args = ap.parse_args()
    if not (args.data / "banking77" / "banking77.csv").exists():
        print(f"no shared data under {args.data}", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    seeds = _seed_texts()
    sample = _render(["source", "text", "label", "category6"], classifier_sample(args.data, seeds))
    weeks = _render(["week", "text", "label", "category6"], banking77_weeks(args.data, seeds))
    ok = _write(OUT / "classifier_sample.csv", sample, check=args.check)
    ok &= _write(OUT / "banking77_weeks.csv", weeks, check=args.check)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
