"""Clustering, titles, quotes, error codes and scoring on hand-made data (hashing embedder)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from feedback_miner.domain.scoring import severity, severity_terms
from feedback_miner.domain.types import FeedbackItem
from feedback_miner.stages.cluster import SMALL_GROUP_COHERENCE, ClusterParams, cluster_embeddings, mean_pairwise_cosine
from feedback_miner.stages.describe import diverse_quotes, error_codes
from feedback_miner.stages.problems import find_problems
from feedback_miner.testing import HashingEmbedder

T0 = datetime(2026, 11, 17, tzinfo=UTC)


def _blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(3, 32))
    X = np.vstack([c + 0.05 * rng.normal(size=(40, 32)) for c in centers]).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X, np.repeat([0, 1, 2], 40)


def test_clusters_are_found_and_reproducible() -> None:
    X, truth = _blobs()
    a = cluster_embeddings(X, ClusterParams(min_cluster_size=5, selection="eom"))
    b = cluster_embeddings(X, ClusterParams(min_cluster_size=5, selection="eom"))
    assert (a == b).all()
    assert len({int(v) for v in a if v >= 0}) == 3
    for k in range(3):
        assert len(set(a[truth == k].tolist())) == 1


def test_too_few_texts_stay_unclustered() -> None:
    X, _ = _blobs()
    assert (cluster_embeddings(X[:4], ClusterParams(min_cluster_size=5)) == -1).all()
    assert (cluster_embeddings(X[:6], ClusterParams(min_cluster_size=7)) == -1).all()  # below the set size


def test_a_small_coherent_group_is_one_problem_and_a_small_mixed_one_is_not() -> None:
    """Fewer texts than twice the min cluster size: HDBSCAN cannot split them, so the group is one
    problem when it is one topic (mean pairwise cosine >= SMALL_GROUP_COHERENCE) and none otherwise."""
    rng = np.random.default_rng(3)
    center = rng.normal(size=32)
    tight = np.vstack([center + 0.3 * rng.normal(size=32) for _ in range(6)]).astype(np.float32)
    tight /= np.linalg.norm(tight, axis=1, keepdims=True)
    mixed = rng.normal(size=(6, 32)).astype(np.float32)
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    assert (cluster_embeddings(tight) == 0).all()
    assert (cluster_embeddings(mixed) == -1).all()
    assert mean_pairwise_cosine(tight[:2]) == pytest.approx(float(tight[0] @ tight[1]), abs=1e-6)
    assert mean_pairwise_cosine(tight[:1]) == 0.0
    assert (cluster_embeddings(tight[:4]) == -1).all()  # fewer than SMALL_GROUP_MIN texts
    # five of one topic and one unrelated text (orthogonal to their centre): coherent as a whole,
    # so the five form the problem and the outlier (far from the centroid) stays out
    outlier = rng.normal(size=32)
    outlier -= (outlier @ center) / (center @ center) * center
    odd = np.vstack([tight[:5], outlier / np.linalg.norm(outlier)]).astype(np.float32)
    assert mean_pairwise_cosine(odd) >= SMALL_GROUP_COHERENCE  # the construction, not the rule
    assert cluster_embeddings(odd).tolist() == [0, 0, 0, 0, 0, -1]
    # five of one topic and one opposite text: not coherent as a whole, so no problem at all
    opposite = np.vstack([tight[:5], -tight[5:6]])
    assert mean_pairwise_cosine(opposite) < SMALL_GROUP_COHERENCE
    assert (cluster_embeddings(opposite) == -1).all()


def test_error_codes_are_counted_per_member() -> None:
    members = ["Charged twice for my order", "I was charged twice for one order", "charged twice again, error PAY-402",
               "you charged twice my card, PAY-402"]
    assert error_codes(members) == ["PAY-402 (2)"]


def test_quotes_are_diverse() -> None:
    texts = ["card declined", "card declined", "card declined at checkout", "the card got declined when paying"]
    X = HashingEmbedder().embed(texts)
    idx = diverse_quotes(X, texts, k=3)
    assert len(idx) == 3 and len({texts[i].lower() for i in idx}) == 3


def _item(text: str, **kw: object) -> FeedbackItem:
    return FeedbackItem(text=text, source="t", external_id=text, created_at=T0, **kw)  # type: ignore[arg-type]


def test_payment_failure_outranks_layout_complaint() -> None:
    pay = [_item("can't pay, card declined and charged twice", rating=1, nps=2, ticket_status="open")] * 5
    ui = [_item("the layout looks a bit cluttered", rating=4, nps=8, ticket_status="solved")] * 5
    assert severity(severity_terms("payment", pay)) > severity(severity_terms("user_interface", ui)) + 0.3


def test_find_problems_keeps_unclustered_and_orders_by_priority() -> None:
    texts = (["card declined at checkout error PAY-402"] * 3 + ["my card was declined when paying"] * 3
             + ["parcel arrived damaged box crushed"] * 3 + ["the parcel came damaged and broken"] * 3 + ["random noise text"])
    items = [_item(t, rating=1 if "card" in t else 3) for t in texts]
    items = [FeedbackItem(**{**i.__dict__, "id": n}) for n, i in enumerate(items)]
    cats = ["payment"] * 6 + ["shipping"] * 6 + ["other"]
    X = HashingEmbedder().embed(texts)
    found = find_problems(items, X, cats, params=ClusterParams(min_cluster_size=3))
    assert [p.category for p in found.problems] == ["payment", "shipping"]
    assert found.unclustered == 1 and found.problem_of[-1] is None
    assert found.problems[0].priority > found.problems[1].priority
    assert all(len(p.quotes) <= 3 and p.title for p in found.problems)


# --------------------------------------------------------------------------- titles, merges, praise


def test_titles_are_whole_phrases_never_cut_mid_phrase() -> None:
    from feedback_miner.stages.titles import _OPEN_END, candidates, outside_counts

    members = [
        "The 2FA code says invalid and now my account is locked.",
        "My account is locked because the code says invalid",
        "Account is locked after the two-factor code failed, please help",
        "The code from the sms says invalid and my account is locked",
    ]
    X = HashingEmbedder().embed(members)
    c = X.mean(axis=0)
    cands = candidates(members, X, c / np.linalg.norm(c), outside_counts([members, ["parcel late"]])[0], 1)
    assert cands, "a problem with a shared phrase gets candidates"
    for cand in cands:
        words = cand.text.lower().split()
        assert words[-1] not in _OPEN_END, cand.text  # never ends on "says", "my", "to", "and" …
        assert " and now" not in cand.text.lower()  # never runs into a second clause
    assert cands[0].text.lower() in {"account is locked", "code says invalid"}


def test_titles_never_open_on_a_verb_whose_subject_was_left_behind() -> None:
    from feedback_miner.stages.titles import candidates, outside_counts

    members = ["Tracking says delivered but nothing came", "tracking says delivered, no parcel here",
               "The tracking says delivered yet I have no parcel", "says delivered but it never arrived"]
    X = HashingEmbedder().embed(members)
    c = X.mean(axis=0)
    cands = candidates(members, X, c / np.linalg.norm(c), outside_counts([members, ["card declined"]])[0], 1)
    assert cands
    assert all(not k.text.lower().startswith("says") for k in cands), [k.text for k in cands]  # "Says delivered"
    assert any(k.text.lower() == "tracking says delivered" for k in cands), [k.text for k in cands]


def test_error_codes_keep_their_case_in_titles_and_codes() -> None:
    members = ["PayPal payment fails with pp-1002", "paypal says error PP-1002 at checkout",
               "Can't pay with PayPal, PP-1002 again", "PP-1002 when paying with PayPal"]
    assert error_codes(members)[0] == "PP-1002 (4)"
    items = [_item(t) for t in members * 3]
    X = HashingEmbedder().embed([i.text for i in items])
    found = find_problems(items, X, ["payment"] * len(items), params=ClusterParams(min_cluster_size=3))
    assert found.problems and "PP-1002" in found.problems[0].title
    assert "pp-1002" not in found.problems[0].title


def test_titles_are_unique_within_a_run() -> None:
    from feedback_miner.stages.titles import TitleCandidate, assign_titles

    same = [TitleCandidate("Go back", 1.0), TitleCandidate("Back button", 0.5)]
    titles = assign_titles([same, same, [TitleCandidate("Go back", 1.0)]], ["Go back"] * 3, [None] * 3)
    assert len({t.lower() for t in titles}) == 3
    assert titles[0] == "Go back" and titles[1] == "Back button"
    assert assign_titles([same], ["x"], [None], taken={"go back"}) == ["Back button"]


def test_near_duplicate_clusters_merge_across_categories_with_majority_category() -> None:
    from feedback_miner.stages.merge import Cluster, merge_clusters

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=16), rng.normal(size=16)
    X = np.vstack([a + 0.01 * rng.normal(size=16) for _ in range(9)] + [b + 0.01 * rng.normal(size=16) for _ in range(4)])
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    clusters = [Cluster([0, 1, 2, 3, 4], ["payment"] * 5), Cluster([5, 6, 7, 8], ["shipping"] * 4),
                Cluster([9, 10, 11, 12], ["payment"] * 4)]
    merged = merge_clusters(X, clusters)
    assert [len(c.members) for c in merged] == [9, 4]  # the two fragments of `a` are one problem …
    assert merged[0].category == "payment"  # … in its members' majority category
    assert set(merged[0].categories) == {"payment", "shipping"}
    assert merged[1].members == [9, 10, 11, 12]  # a distinct problem is not lumped in


def test_a_praise_problem_is_not_an_issue_problem() -> None:
    from feedback_miner.stages.nonissue import is_praise

    praise = ["Thanks, problem solved!", "Solved my problem, thank you", "Thanks, my issue is fixed",
              "problem solved thanks a lot", "Thank you, solved my problem quickly", "Great help, problem solved"]
    assert all(is_praise(t) for t in praise)
    assert not is_praise("Thanks, but my card was declined again")
    assert not is_praise("thanks for nothing, still waiting for my refund")
    items = [_item(t) for t in praise * 2]
    X = HashingEmbedder().embed([i.text for i in items])
    found = find_problems(items, X, ["technical"] * len(items), params=ClusterParams(min_cluster_size=3))
    assert found.problems and all(p.category == "other" for p in found.problems)
