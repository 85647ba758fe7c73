"""Clustering, titles, quotes, error codes and scoring on hand-made data (hashing embedder)."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from feedback_miner.domain.scoring import severity, severity_terms
from feedback_miner.domain.types import FeedbackItem
from feedback_miner.stages.cluster import ClusterParams, cluster_embeddings
from feedback_miner.stages.describe import diverse_quotes, error_codes, title_for
from feedback_miner.stages.problems import find_problems
from feedback_miner.testing import HashingEmbedder

T0 = datetime(2026, 11, 17, tzinfo=timezone.utc)


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
    assert (cluster_embeddings(X[:5], ClusterParams(min_cluster_size=5)) == -1).all()


def test_title_is_a_phrase_and_codes_are_quoted() -> None:
    members = ["Charged twice for my order", "I was charged twice for one order", "charged twice again, error PAY-402",
               "you charged twice my card, PAY-402"]
    others = ["parcel arrived damaged", "tracking not updating"]
    title = title_for(members, others, ["charged twice", "charged", "twice", "order"])
    assert title.lower().startswith("charged twice")
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
