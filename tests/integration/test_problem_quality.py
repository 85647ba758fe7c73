"""Problem quality on real data and on the demo (real MiniLM model, real HDBSCAN, shipped classifier).

Floors sit a little under what was measured (see benchmarks/bench_problems.py for the full sets):
purity is always asserted together with fragmentation (problems per intent), never alone.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedback_miner.demo.generate import PROBLEM_CATEGORIES, generate_labeled_demo
from feedback_miner.domain.types import FeedbackItem
from feedback_miner.stages.evaluation import duplicated_titles, problem_quality, title_names_intent
from feedback_miner.stages.ingest import ColumnMapping, IngestReport, parse_rows
from feedback_miner.stages.problems import find_problems
from feedback_miner.stages.severe import severe_reason, severe_unclustered

pytestmark = pytest.mark.slow
DATA = Path(__file__).resolve().parents[1] / "data" / "real_slice.csv"
_T = datetime(2026, 11, 17, tzinfo=UTC)


def _demo_week(week: str = "2026-W46", per_week: int = 220) -> tuple[list[FeedbackItem], list[str]]:
    labeled = [(r, pid) for r, pid in generate_labeled_demo(weeks=8, per_week=per_week)
               if r["created_at"] and _iso_week(r["created_at"]) == week]
    items = list(parse_rows(((n, r) for n, (r, _) in enumerate(labeled, 1)), ColumnMapping(), default_source="demo",
                            report=IngestReport()))
    return [replace(i, id=n) for n, i in enumerate(items)], [pid for _, pid in labeled]


def _iso_week(ts: str) -> str:
    y, w, _ = datetime.fromisoformat(ts).isocalendar()
    return f"{y}-W{w:02d}"


def test_banking77_slice_problems_are_pure_and_not_fragmented(real_embedder) -> None:  # type: ignore[no-untyped-def]
    with DATA.open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["set"] == "banking77"]
    items = [FeedbackItem(text=r["text"], source="b77", external_id=str(n), created_at=_T, id=n, category=r["category6"])
             for n, r in enumerate(rows)]
    X = real_embedder.embed([i.text for i in items])
    found = find_problems(items, X, [r["category6"] for r in rows], embedder=real_embedder)
    q = problem_quality([r["label"] for r in rows], found.problem_of)
    assert q["purity"] >= 0.80 and q["problems_per_intent"] <= 1.25, q
    assert q["unclustered_share"] <= 0.10, q
    assert duplicated_titles([p.title for p in found.problems]) == 0
    # Titles name their problem: embedded, nearest to their own majority intent's name. Measured
    # 2026-12-02: 12 of 14 problems (0.857); 11 of 14 (0.786) before phrases two members share
    # competed in small title pools (stages.titles.MIN_POOL).
    members: dict[str, list[str]] = {}
    for pid, r in zip(found.problem_of, rows):
        if pid is not None:
            members.setdefault(pid, []).append(r["label"])
    majority = [Counter(members[p.id]).most_common(1)[0][0] for p in found.problems]
    named = title_names_intent([p.title for p in found.problems], majority, [r["label"] for r in rows],
                               real_embedder.embed)
    assert named >= 0.80, [(p.title, m) for p, m in zip(found.problems, majority)]


def test_large_groups_are_not_split_into_fragments(real_embedder) -> None:  # type: ignore[no-untyped-def]
    """Groups of 120 texts (categories of 360 and 600): the size rule must split them less than the
    fixed rule did. Measured 2026-12-02 with the capped raise (stages.cluster.RAISE_BELOW): 2.75
    problems per intent, purity 0.923, ARI 0.487; the fixed rule, leaf at 2 ln n: 3.75, 0.939, 0.409.
    (The uncapped raise, 2.38 / 0.924 / 0.618 here, lumped real mixed feedback: see RAISE_BELOW.)
    The same code gave 3.125 problems per intent, ARI 0.486 on 2026-12-03 on an Intel AVX-512 machine
    (UMAP's compiled float paths differ between CPUs): the floor sits between that and the fixed rule's 3.75."""
    with (DATA.parent / "large_groups.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    items = [FeedbackItem(text=r["text"], source="b77", external_id=str(n), created_at=_T, id=n, category=r["category6"])
             for n, r in enumerate(rows)]
    X = real_embedder.embed([i.text for i in items])
    found = find_problems(items, X, [r["category6"] for r in rows])
    q = problem_quality([r["label"] for r in rows], found.problem_of)
    assert q["problems_per_intent"] <= 3.4 and q["purity"] >= 0.90, q
    assert q["ari"] >= 0.45 and q["unclustered_share"] <= 0.10, q


def test_demo_week_one_entry_per_planted_problem_no_praise_issue(real_embedder, shipped_classifier) -> None:  # type: ignore[no-untyped-def]
    items, truth = _demo_week()
    clf, _ = shipped_classifier
    X = real_embedder.embed([i.text for i in items])
    cats = [p.category for p in clf.predict(X)]
    found = find_problems(items, X, cats, embedder=real_embedder)
    titles = [p.title for p in found.problems]
    assert duplicated_titles(titles) == 0, titles
    majority = {}
    for p in found.problems:
        members = [truth[m] for m in p.member_ids]
        majority[p.id] = Counter(members).most_common(1)[0][0]
        if PROBLEM_CATEGORIES[majority[p.id]] == "other":
            assert p.category == "other", (p.title, p.category, Counter(members))
    per_planted = Counter(majority.values())
    for planted in ("paypal_checkout_fails", "card_declined_pay402"):  # split in two or three before
        assert per_planted[planted] == 1, (planted, per_planted)
    assert max(per_planted.values()) <= 2, per_planted
    q = problem_quality(truth, found.problem_of)
    assert q["purity"] >= 0.65 and q["problems_per_intent"] <= 1.3, q  # measured 0.685 purity on 2026-W46


def test_small_week_lists_its_severe_unclustered_texts(real_embedder, shipped_classifier) -> None:  # type: ignore[no-untyped-def]
    items, _ = _demo_week(per_week=26)
    extra = ["I was charged twice for the same order", "you charged me twice, I want my money back",
             "Charged twice for one pair of trainers", "My card was declined at checkout again"]
    items = items + [FeedbackItem(text=t, source="demo", external_id=f"x{n}", created_at=_T, id=1000 + n)
                     for n, t in enumerate(extra)]
    assert 28 <= len(items) <= 32
    clf, _ = shipped_classifier
    X = real_embedder.embed([i.text for i in items])
    cats = [p.category for p in clf.predict(X)]
    found = find_problems(items, X, cats, embedder=real_embedder)
    listed = {s.item_id for s in severe_unclustered(items, cats, found.problem_of, limit=50)}
    for item, pid in zip(items, found.problem_of):
        if severe_reason(item.text) is not None:
            assert pid is not None or item.id in listed, item.text  # nothing severe disappears



def test_a_small_group_of_one_problem_is_a_problem_and_a_mixed_one_is_not(real_embedder) -> None:  # type: ignore[no-untyped-def]
    """Groups of 5-7 texts (fewer than twice their min cluster size: too few for HDBSCAN to split):
    one banking77 intent should be one problem; texts of one category of real app reviews
    (review_pulse) should not be lumped into one. "One problem" = one cluster holds at least half
    the group. Measured on 2026-12-03 (100 draws each, random.Random(5)): one intent 0.69, mixed
    reviews 0.01; before stages.cluster.SMALL_GROUP_COHERENCE such groups were never clustered (0.0 / 0.0)."""
    import random

    import numpy as np

    from feedback_miner.stages.cluster import cluster_embeddings

    with DATA.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    groups: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        if r["set"] == "banking77":
            groups.setdefault(("intent", r["label"]), []).append(r["text"])
        elif r["set"] == "review_pulse" and r["category6"] != "other":
            groups.setdefault(("mixed", r["category6"]), []).append(r["text"])
    texts = sorted({t for ts in groups.values() for t in ts})
    V = dict(zip(texts, np.asarray(real_embedder.embed(texts), dtype=np.float32)))
    rng = random.Random(5)
    one: dict[str, list[bool]] = {"intent": [], "mixed": []}
    for kind in one:
        keys = sorted(k for k in groups if k[0] == kind)
        for _ in range(100):
            sample = rng.sample(groups[rng.choice(keys)], rng.randint(5, 7))
            labels = cluster_embeddings(np.stack([V[t] for t in sample]))
            largest = int(np.bincount(labels[labels >= 0]).max()) if (labels >= 0).any() else 0
            one[kind].append(largest >= 0.5 * len(sample))  # one problem holds at least half of them
    intent_share, mixed_share = sum(one["intent"]) / 100, sum(one["mixed"]) / 100
    assert intent_share >= 0.55, f"one intent -> one problem in {intent_share:.2f} of draws"
    assert mixed_share <= 0.05, f"one category of mixed reviews -> one problem in {mixed_share:.2f} of draws"
