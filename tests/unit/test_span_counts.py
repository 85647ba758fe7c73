"""The linear outside-span counts give titles.candidates exactly what titles.outside_counts gives."""

from __future__ import annotations

import numpy as np

from feedback_miner.demo.generate import generate_demo
from feedback_miner.stages.span_counts import outside_counts_of_own_spans, span_counts
from feedback_miner.stages.titles import candidates, outside_counts
from feedback_miner.testing import HashingEmbedder


def _groups() -> list[list[str]]:
    texts = [str(r["text"]) for r in generate_demo(weeks=2, end_week="2026-W46", per_week=150)]
    from sklearn.cluster import KMeans

    labels = KMeans(12, n_init=1, random_state=0).fit_predict(HashingEmbedder().embed(texts))
    return [[t for t, g in zip(texts, labels) if g == k] for k in range(12)]


def test_same_counts_on_every_key_a_problem_uses() -> None:
    groups = _groups()
    slow, fast = outside_counts(groups), outside_counts_of_own_spans(groups)
    assert len(slow) == len(fast) == len(groups)
    looked_up = 0
    for texts, s, f in zip(groups, slow, fast):
        for key in span_counts(texts):
            assert f.get(key, 0) == s.get(key, 0), key
            looked_up += s.get(key, 0) > 0
        assert set(f) <= set(span_counts(texts))  # nothing but the problem's own spans
    assert looked_up > 100  # the comparison saw real outside counts, not only zeros


def test_same_title_candidates() -> None:
    groups = _groups()
    emb = HashingEmbedder()
    slow, fast = outside_counts(groups), outside_counts_of_own_spans(groups)
    n_all = sum(len(g) for g in groups)
    seen = 0
    for k, texts in enumerate(groups):
        X = emb.embed(texts)
        c = X.mean(axis=0)
        c /= np.linalg.norm(c)
        a = candidates(texts, X, c, slow[k], n_all - len(texts))
        b = candidates(texts, X, c, fast[k], n_all - len(texts))
        assert a == b
        seen += bool(a)
    assert seen >= 6  # most problems have candidates to compare
