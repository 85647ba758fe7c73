"""Quality floors of the severe-report rules (``stages.severe``) on real texts, without the model.

``tests/data/severe_slice.csv`` (see ``tests/data/SOURCE.md``): the hand-labelled real app reviews of
``benchmarks/bench_severe.py`` whose licences allow a copy (review_pulse, idea_youtube: 80 texts), and
banking77 test-split messages labelled by intent (320 of eight severe intents, 180 of eighteen calm ones).
Measured on 2026-12-03 with the rules of that day (the rules before them in brackets): reviews precision
0.96 (0.45), recall 0.93 (0.76); banking77 recall 0.50 (0.13), calm texts flagged 2 of 180 (0: both
"my top-up for Google Pay isn't working", which the rules read as a blocked payment). The 80 reviews
hold 1 money-lost and no payment-blocked label, so their floors guard locked out and safety; the
banking77 rows guard money lost and payment blocked.
A wrong reason counts as a miss and as a false alarm.
"""

from __future__ import annotations

import csv
from pathlib import Path

from feedback_miner.stages.evaluation import flag_quality
from feedback_miner.stages.severe import severe_reason

SLICE = Path(__file__).resolve().parents[1] / "data" / "severe_slice.csv"


def _rows(*sets: str) -> list[dict[str, str]]:
    with SLICE.open(newline="", encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if r["set"] in sets]


def _precision_recall(rows: list[dict[str, str]]) -> tuple[float, float]:
    q = flag_quality([r["label"] for r in rows], [severe_reason(r["text"]) or "" for r in rows])["all"]
    assert q["precision"] is not None and q["recall"] is not None
    return float(q["precision"]), float(q["recall"])


def test_severe_reports_in_real_reviews_are_mostly_right() -> None:
    rows = _rows("review_pulse", "idea_youtube")
    assert len(rows) == 80
    precision, recall = _precision_recall(rows)
    assert precision >= 0.9, precision
    assert recall >= 0.85, recall  # 27 of 29


def test_severe_support_messages_are_found_and_calm_ones_left_alone() -> None:
    rows = _rows("banking77")
    severe = [r for r in rows if r["label"]]
    calm = [r for r in rows if not r["label"]]
    assert (len(severe), len(calm)) == (320, 180)
    recall = sum(severe_reason(r["text"]) == r["label"] for r in severe) / len(severe)
    assert recall >= 0.45, recall
    assert sum(severe_reason(r["text"]) is not None for r in calm) <= 2
