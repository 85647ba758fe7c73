"""merge_anchored updates its pair matrix incrementally; it must merge exactly as the plain rule does:
recompute every centroid similarity and limit, merge the most similar allowed pair, repeat."""

from __future__ import annotations

import random

import numpy as np

from feedback_miner.stages.merge import Cluster, majority_category, merge_anchored


def _reference(X, clusters, anchors, threshold, cross, anchored):
    work = [(list(c.members), list(c.categories), a) for c, a in zip(clusters, anchors)]
    while len(work) > 1:
        best = None
        for i in range(len(work)):
            for j in range(i + 1, len(work)):
                (mi, ci, ai), (mj, cj, aj) = work[i], work[j]
                if ai is not None and aj is not None and ai != aj:
                    continue
                u = X[mi].sum(axis=0)
                v = X[mj].sum(axis=0)
                sim = float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))
                if majority_category(ci) != majority_category(cj):
                    limit = cross
                elif (ai is None) != (aj is None):
                    limit = threshold if anchored is None else anchored
                else:
                    limit = threshold
                if sim - limit >= 0 and (best is None or sim - limit > best[0] + 1e-12):
                    best = (sim - limit, i, j)
        if best is None:
            break
        _, i, j = best
        mi, ci, ai = work[i]
        mj, cj, aj = work.pop(j)
        work[i] = (mi + mj, ci + cj, ai or aj)
    out = []
    for m, c, a in work:
        order = np.argsort(m, kind="stable")
        out.append(([m[k] for k in order], [c[k] for k in order], a))
    return sorted(out, key=lambda t: (-len(t[0]), t[0][0]))


def test_incremental_merge_equals_the_plain_rule() -> None:
    rng = np.random.default_rng(7)
    for trial in range(60):
        n = int(rng.integers(20, 120))
        base = rng.normal(size=(int(rng.integers(2, 8)), 12))
        X = base[rng.integers(0, len(base), n)] + rng.normal(scale=float(rng.uniform(0.2, 1.0)), size=(n, 12))
        X /= np.linalg.norm(X, axis=1, keepdims=True)
        perm = rng.permutation(n)
        cuts = np.sort(rng.choice(np.arange(1, n), size=int(rng.integers(1, 15)), replace=False))
        clusters = [Cluster([int(i) for i in g], [random.Random(int(i)).choice("abc") for i in g])
                    for g in np.split(perm, cuts)]
        anchors = [None if rng.random() < 0.6 else f"p{int(rng.integers(0, 3))}" for _ in clusters]
        threshold, cross = float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.3, 0.9))
        anchored = None if trial % 2 else float(rng.uniform(0.2, 0.8))
        got = merge_anchored(X, clusters, anchors, threshold=threshold, cross_category_threshold=cross,
                             anchored_threshold=anchored)
        want = _reference(X, clusters, anchors, threshold, cross, anchored)
        assert [(c.members, c.categories, a) for c, a in got] == want, trial
