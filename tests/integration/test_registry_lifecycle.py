"""Rename sticks; mark fixed → holding → resurfaced, with real embeddings on a small fixture; each test
on a fresh store on every backend (the ``store`` fixture: SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from feedback_miner.adapters.registry_store import mark_fixed, rename
from feedback_miner.adapters.store import Store
from feedback_miner.domain.types import FeedbackItem
from feedback_miner.domain.weeks import shift_week, week_bounds
from feedback_miner.services.fix_watch import fix_watch
from feedback_miner.services.weekly import RunOptions, run_week

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
                         category="payment" if i < n_charged else "shipping", customer_id=f"C{i % 12}")
            for i, t in enumerate(texts)]


def test_rename_fix_holding_and_resurfacing(store: Store, real_embedder, shipped_classifier) -> None:  # type: ignore[no-untyped-def]
    clf, manifest = shipped_classifier
    w0 = "2026-W40"
    plan = [10, 10, 10, 0, 0, 0, 12]  # steady, fixed after week 3, quiet two+ weeks, back
    weeks = [shift_week(w0, k) for k in range(len(plan))]
    pid = None
    for k, (w, n) in enumerate(zip(weeks, plan)):
        for it in _items(w, n, 1000 * k):
            store.upsert_feedback(it)
        d = run_week(store, real_embedder, clf, week=w, classifier_version=manifest["version"])
        pay = [p for p in d.top_problems if p["category"] == "payment"]
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
    watch = {f["id"]: f for f in d.fix_watch}
    assert watch[pid]["verdict"] == "resurfaced"
    # Customers C0..C9 reported it in each of the three weeks before the fix: all of them repeat.
    assert watch[pid]["repeat_before_fix"] == 1.0 and watch[pid]["repeat_after_fix"] == 0.0


RARE = ["the seller rating stars do not show on listings", "star ratings of sellers are missing from listing pages",
        "listing pages no longer display seller star ratings", "seller stars vanished from the listings",
        "can't see seller ratings on any listing", "seller review stars are gone on listing pages"]


def test_small_but_steady_problem_surfaces_from_the_pool(store: Store, real_embedder, shipped_classifier) -> None:  # type: ignore[no-untyped-def]
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
    rare = [p for p in d.top_problems if p["category"] == "technical"]
    assert rare, "two texts a week over three weeks surface as one recurring problem"
    assert sum(rare[0]["weekly_counts"].values()) >= 5 and rare[0]["weekly_counts"][weeks[-1]] == 2


def _known(store, pid: str, category: str, texts: list[str], emb, week: str, counts: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    import json as _json
    from datetime import datetime

    import numpy as np

    from feedback_miner.adapters import tables as t

    c = emb.embed(texts).mean(axis=0)
    c = (c / np.linalg.norm(c)).astype(np.float32)
    with store.tx() as conn:
        conn.execute(t.problems.insert().values(id=pid, category=category, title=texts[0], title_locked=False,
                                                keywords=_json.dumps([]), centroid=c.tobytes(), first_week=week,
                                                last_week=week, created_at=datetime.now(UTC)))
        for w, n in counts.items():
            conn.execute(t.problem_weeks.insert().values(problem_id=pid, week=w, count=n, severity=0.5, priority=1.0,
                                                         status="steady", detail="{}"))


def test_converging_problems_merge_and_history_follows(store: Store, real_embedder, shipped_classifier) -> None:  # type: ignore[no-untyped-def]
    from feedback_miner.adapters.registry_store import resolve_id

    clf, manifest = shipped_classifier
    week = "2026-W46"
    prev = shift_week(week, -1)
    # Two known problems whose phrasings are one problem really: this week they form one cluster.
    a = [f"I was charged twice for my order, please refund {n}" for n in range(3)]
    b = [f"charged twice for my order again {n}" for n in range(3)]
    _known(store, "payment-001", "payment", a, real_embedder, prev, {prev: 4})
    _known(store, "payment-002", "payment", b, real_embedder, prev, {prev: 3})
    t0 = week_bounds(week)[0] + timedelta(hours=8)
    for i in range(12):
        text = f"I was charged twice for my order (ticket {i})"
        store.upsert_feedback(FeedbackItem(text=text, source="t", external_id=f"m{i}", created_at=t0 + timedelta(minutes=i),
                                           category="payment"))
    d = run_week(store, real_embedder, clf, week=week, classifier_version=manifest["version"],
                 options=RunOptions(match_threshold=0.8))
    assert d.merges, "two known problems matching one cluster are merged"
    absorbed, survivor = d.merges[0]
    assert resolve_id(store, absorbed) == survivor
    pay = next(p for p in d.top_problems if p["id"] == survivor)
    assert pay["weekly_counts"][prev] == 7, "the absorbed problem's history goes to the survivor"


def test_a_cluster_fragment_joins_its_problem_not_a_new_one(store: Store, real_embedder) -> None:  # type: ignore[no-untyped-def]
    """Two clusters this week both near one known problem: the second joins it (a split is recorded
    as a fragment) instead of being announced as a new problem."""
    import numpy as np

    from feedback_miner.domain.types import Problem
    from feedback_miner.services.registry import join_fragments, match_registry
    from feedback_miner.stages.problems import FoundProblems

    week = "2026-W46"
    _known(store, "shipping-001", "shipping", TRACKING, real_embedder, shift_week(week, -1), {shift_week(week, -1): 8})
    t0 = week_bounds(week)[0]
    halves = [TRACKING[:3], TRACKING[3:]]
    items, problems, cents = [], [], {}
    for k, texts in enumerate(halves):
        ids = []
        for j, x in enumerate(texts):
            n = 10 * k + j
            items.append(FeedbackItem(text=x, source="t", external_id=str(n), created_at=t0 + timedelta(hours=n),
                                      category="shipping", id=n))
            ids.append(n)
        c = real_embedder.embed(texts).mean(axis=0)
        cents[f"shipping-0{k + 1}"] = c / np.linalg.norm(c)
        problems.append(Problem(id=f"shipping-0{k + 1}", category="shipping", title=texts[0], keywords=[],
                                member_ids=ids, quotes=texts[:1]))
    found = FoundProblems(problems, [None] * len(items), cents, 0)
    ids_map, match, _ = match_registry(store, found, week, threshold=0.8)
    assert set(ids_map.values()) == {"shipping-001"}
    assert match.splits and match.splits[0][0] == "shipping-001"
    for p in found.problems:
        p.id = ids_map[p.id]
    join_fragments(found, items, ["shipping"] * len(items))
    assert [p.id for p in found.problems] == ["shipping-001"] and found.problems[0].size == 6


def test_a_lead_title_is_redacted_like_any_text(store: Store) -> None:
    """A title is user text: an e-mail or phone typed into a rename is never stored or shown."""
    import numpy as np

    from feedback_miner.domain.ports import ProblemUpsert

    with store.unit_of_work() as uow:
        uow.replace_week_problems("2026-W46", [ProblemUpsert(
            id="payment-001", category="payment", title="Charged twice", keywords=(), centroid=np.ones(4, np.float32),
            count=0, severity=0.0, priority=0.0, status=None, detail={}, member_ids=(), is_new=True)])
    rename(store, "payment-001", "Charged twice, ask jane.doe@example.com or +44 7700 900123", by="lead")
    [rec] = store.problem_records()
    assert "jane" not in rec.title and "7700" not in rec.title and "[EMAIL]" in rec.title
