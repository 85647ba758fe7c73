"""Rename sticks; mark fixed → holding → resurfaced, with real embeddings on a small fixture."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from feedback_miner.adapters.registry_store import fix_watch, mark_fixed, rename
from feedback_miner.adapters.store import open_store
from feedback_miner.domain.types import FeedbackItem
from feedback_miner.domain.weeks import shift_week, week_bounds
from feedback_miner.weekly import run_week

pytestmark = pytest.mark.slow
CHARGED = ["I was charged twice for my order", "you charged my card twice for one purchase",
           "double charge on my card for a single order", "charged two times for the same order, refund please",
           "my order was billed twice", "payment taken twice for one order"]
TRACKING = ["tracking number is not updating", "my parcel tracking has not moved for days",
            "tracking page shows no updates for my package", "courier tracking stuck on label created",
            "the tracking link never updates", "no tracking updates since the parcel shipped"]


def _items(week: str, n_charged: int, start: int) -> list[FeedbackItem]:
    t0 = week_bounds(week)[0] + timedelta(hours=10)
    texts = [CHARGED[i % 6] + ("" if i < 6 else f" (again, #{i})") for i in range(n_charged)]
    texts += [TRACKING[i % 6] + ("" if i < 6 else f" (#{i})") for i in range(8)]
    return [FeedbackItem(text=t, source="t", external_id=f"{week}-{start + i}", created_at=t0 + timedelta(minutes=i),
                         category="payment" if i < n_charged else "shipping") for i, t in enumerate(texts)]


def test_rename_fix_holding_and_resurfacing(tmp_path: Path, real_embedder, shipped_classifier) -> None:  # type: ignore[no-untyped-def]
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    clf, manifest = shipped_classifier
    w0 = "2026-W40"
    plan = [10, 10, 10, 0, 0, 0, 12]  # steady, fixed after week 3, quiet two+ weeks, back
    weeks = [shift_week(w0, k) for k in range(len(plan))]
    pid = None
    for k, (w, n) in enumerate(zip(weeks, plan)):
        for it in _items(w, n, 1000 * k):
            store.upsert_feedback(it)
        d = run_week(store, real_embedder, clf, week=w, classifier_version=manifest["version"])
        pay = [p for p in d["top_problems"] if p["category"] == "payment"]
        if k == 0:
            pid = pay[0]["id"]
            rename(store, pid, "Customers charged twice", by="lead")
        elif n:
            assert pay and pay[0]["id"] == pid, "the same problem keeps its id"
            assert pay[0]["title"] == "Customers charged twice", "a lead's rename sticks"
        if k == 2:
            mark_fixed(store, pid, week=w, by="dev", link="https://jira.example/PAY-1")
        if k == 5:
            watch = {f["id"]: f for f in fix_watch(store, w)}
            assert watch[pid]["verdict"] == "fix holding"
    watch = {f["id"]: f for f in d["fix_watch"]}
    assert watch[pid]["verdict"] == "resurfaced"


RARE = ["the seller rating stars do not show on listings", "star ratings of sellers are missing from listing pages",
        "listing pages no longer display seller star ratings", "seller stars vanished from the listings",
        "can't see seller ratings on any listing", "seller review stars are gone on listing pages"]


def test_small_but_steady_problem_surfaces_from_the_pool(tmp_path: Path, real_embedder, shipped_classifier) -> None:  # type: ignore[no-untyped-def]
    store = open_store(f"sqlite:///{tmp_path / 'p.db'}")
    clf, manifest = shipped_classifier
    weeks = [shift_week("2026-W40", k) for k in range(3)]
    for k, w in enumerate(weeks):
        t0 = week_bounds(w)[0] + timedelta(hours=9)
        items = _items(w, 8, 1000 * k)
        items += [FeedbackItem(text=RARE[2 * k + j], source="t", external_id=f"rare-{k}-{j}",
                               created_at=t0 + timedelta(hours=j), category="technical") for j in range(2)]
        for it in items:
            store.upsert_feedback(it)
        d = run_week(store, real_embedder, clf, week=w, classifier_version=manifest["version"])
    rare = [p for p in d["top_problems"] if p["category"] == "technical"]
    assert rare, "two texts a week over three weeks surface as one recurring problem"
    assert sum(rare[0]["weekly_counts"].values()) >= 5 and rare[0]["weekly_counts"][weeks[-1]] == 2
