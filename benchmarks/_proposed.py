"""Speed changes proposed for modules this branch does not own, applied by monkeypatching so the
benchmarks can measure them before the lead wires them in (docs/PERFORMANCE.md, "To wire in").

``apply(names)`` with any of:

* ``jit``      — ``feedback_miner.adapters.jit_cache.enable_jit_cache()`` before umap is imported
                 (wire: ``bootstrap.Container.__init__``, when ``settings.jit_cache``).
* ``knn``      — exact cosine k-nearest neighbours by blocked matrix products, handed to UMAP as
                 ``precomputed_knn`` (wire: ``stages/cluster.py``). UMAP otherwise computes the full
                 distance matrix of a category under 4,096 texts through scikit-learn calling the
                 numba ``cosine`` once per pair from Python (n²/2 calls), and above 4,096 runs
                 pynndescent (approximate, with its own JIT compilation).
* ``titles``   — one pass of phrase extraction per category instead of one per cluster over all
                 other texts (wire: ``stages/describe.py`` + ``stages/problems.py``); same titles.
* ``parallel`` — categories clustered in two processes (wire: ``stages/problems.py``); same labels.
* ``dmat``     — UMAP's small-data cosine distance matrix in one compiled loop,
                 ``feedback_miner.stages.umap_distances.install()`` (wire: ``stages/cluster.py``, after
                 ``import umap``); bit-for-bit the same matrix, so the same labels.
* ``spans``    — ``stages.span_counts.outside_counts_of_own_spans`` in place of
                 ``titles.outside_counts`` (linear instead of problems × distinct spans); same titles.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

import numpy as np

ALL = ("jit", "knn", "titles", "parallel", "dmat", "spans")
_applied: set[str] = set()


# --- knn ---------------------------------------------------------------------------------------
def exact_cosine_knn(X: np.ndarray, k: int, *, block_bytes: int = 16 << 20) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine distances of each row's ``k`` nearest rows (itself first), exactly.

    Blocked ``X @ X.T`` in float32 (memory ``block_bytes`` whatever n); distances as UMAP's
    ``cosine`` gives them, with a row's distance to itself and to exact duplicates 0.
    """
    X = np.asarray(X, dtype=np.float32)
    n = len(X)
    k = min(k, n)
    Xn = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    idx = np.empty((n, k), dtype=np.int64)
    dist = np.empty((n, k), dtype=np.float32)
    step = max(1, block_bytes // (4 * n))
    for s in range(0, n, step):
        sims = Xn[s : s + step] @ Xn.T
        rows = np.arange(s, min(s + step, n))
        sims[rows - s, rows] = 2.0  # itself first, whatever the rounding
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(sims, part, axis=1)
        order = np.lexsort((part, -top), axis=1)  # by similarity, ties by index
        idx[s : s + step] = np.take_along_axis(part, order, axis=1)
        d = 1.0 - np.take_along_axis(top, order, axis=1)
        d[d < 1e-6] = 0.0  # itself and exact duplicates: 0, as UMAP's float64 cosine gives
        dist[s : s + step] = d
    return idx, dist


def _patch_umap() -> None:
    import umap

    base = umap.UMAP
    if getattr(base, "_fm_exact_knn", False):
        return

    class ExactKnnUMAP(base):  # type: ignore[misc, valid-type]
        _fm_exact_knn = True

        def fit_transform(self, X: np.ndarray, y: Any = None, **kw: Any) -> np.ndarray:
            if self.metric == "cosine" and self.precomputed_knn[0] is None and isinstance(X, np.ndarray):
                self.precomputed_knn = exact_cosine_knn(X, self.n_neighbors)
                self.force_approximation_algorithm = True
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return super().fit_transform(X, y, **kw)

    umap.UMAP = ExactKnnUMAP


# --- titles ------------------------------------------------------------------------------------
def titles_by_cluster(texts: Sequence[str], labels: np.ndarray, keywords: dict[int, list[str]]) -> dict[int, str]:
    """``describe.title_for(members, others, keywords)`` for every cluster, phrases extracted once.

    A text counts once per phrase (``_phrases`` returns a set), so the count outside a cluster is
    the category's count minus the count inside: the same numbers, the same titles.
    """
    from feedback_miner.stages import describe

    phr = [describe._phrases(t) for t in texts]
    total: Counter[str] = Counter()
    for s in phr:
        total.update(s)
    out: dict[int, str] = {}
    for k in sorted({int(v) for v in labels.tolist() if v >= 0}):
        members = np.where(labels == k)[0]
        inside: Counter[str] = Counter()
        for j in members:
            inside.update(phr[int(j)])
        out[k] = _title_from_counts([texts[int(j)] for j in members], inside, total, len(texts) - len(members),
                                    keywords.get(k, []))
    return out


def _title_from_counts(member_texts: Sequence[str], inside: Counter[str], total: Counter[str], n_others: int,
                       keywords: Sequence[str]) -> str:
    """The body of ``describe.title_for`` after its two counting loops (outside = total - inside)."""
    import re

    n = len(member_texts)
    m = max(n_others, 1)
    key_words = {w for k in keywords[:4] for w in k.split()}
    best: tuple[float, str] | None = None
    for p, c in inside.items():
        cover = c / n
        words = p.split()
        hits = sum(1 for w in words if w in key_words)
        if cover < 0.12 or c < 2 or (key_words and words[0] not in key_words and words[-1] not in key_words):
            continue
        spec = cover / (cover + (total[p] - c) / m + 1e-9)
        score = cover * spec * (1 + 0.15 * (len(words) - 2)) * (1 + 0.5 * hits)
        if best is None or (score, p) > best:
            best = (score, p)
    if best is not None:
        phrase = best[1]
    elif member_texts:
        first = re.split(r"[.!?;\n]", member_texts[0])[0].strip()
        phrase = " ".join(first.split()[:8]) or (keywords[0] if keywords else "unnamed problem")
    else:
        phrase = keywords[0] if keywords else "unnamed problem"
    return phrase[:1].upper() + phrase[1:]


def _patch_titles() -> None:
    """find_problems calls keywords_by_cluster(texts, labels) once per category, then
    title_for(member_texts, others, kws) per cluster: compute all titles in the first call."""
    from feedback_miner.stages import problems

    if not hasattr(problems, "title_for"):  # titles moved to stages/titles.py (linear already): nothing to patch
        return
    if getattr(problems.title_for, "_fm_linear", False):
        return
    kw_orig: Callable[..., dict[int, list[str]]] = problems.keywords_by_cluster
    title_orig: Callable[..., str] = problems.title_for
    stash: dict[tuple[str, ...], str] = {}

    def keywords_by_cluster(texts: Sequence[str], labels: np.ndarray, *a: Any, **kw: Any) -> dict[int, list[str]]:
        kws = kw_orig(texts, labels, *a, **kw)
        stash.clear()
        for k, title in titles_by_cluster(texts, labels, kws).items():
            stash[tuple(texts[int(j)] for j in np.where(labels == k)[0])] = title
        return kws

    def title_for(member_texts: Sequence[str], other_texts: Sequence[str], keywords: Sequence[str]) -> str:
        hit = stash.get(tuple(member_texts))
        return hit if hit is not None else title_orig(member_texts, other_texts, keywords)

    title_for._fm_linear = True  # type: ignore[attr-defined]
    problems.keywords_by_cluster = keywords_by_cluster
    problems.title_for = title_for


# --- parallel ----------------------------------------------------------------------------------
def _worker_init(names: Sequence[str]) -> None:
    apply([n for n in names if n != "parallel"])


def _cluster(X: np.ndarray, params: Any) -> np.ndarray:
    from feedback_miner.stages.cluster import cluster_embeddings

    return cluster_embeddings(X, params)


def split_by_cost(sizes: Sequence[int], workers: int = 2) -> list[list[int]]:
    """Greedy longest-first split of groups over workers by n·log n."""
    bins: list[list[int]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for i in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        w = load.index(min(load))
        bins[w].append(i)
        load[w] += sizes[i] * math.log(max(sizes[i], 2))
    return bins


def _patch_parallel(names: Iterable[str]) -> None:
    """Cluster every category before find_problems describes them: the largest share here, the rest
    in one spawned worker process (its JIT code loads from the cache)."""
    from feedback_miner.domain.types import CATEGORY_IDS
    from feedback_miner.services import analysis
    from feedback_miner.stages import problems

    if getattr(analysis.find_problems, "_fm_parallel", False):
        return
    orig: Callable[..., Any] = analysis.find_problems
    cluster_orig = problems.cluster_embeddings
    init_names = tuple(n for n in names if n != "parallel")

    def find_problems(items: Any, X: np.ndarray, categories: Sequence[str], *, params: Any = None,
                      progress: Any = None, **kw: Any) -> Any:
        import multiprocessing as mp

        cats = np.array(categories)
        present = [c for c in CATEGORY_IDS if (cats == c).any()]
        groups = [np.asarray(X[cats == c], dtype=np.float32) for c in present]
        mine, theirs = split_by_cost([len(g) for g in groups])
        done: dict[int, np.ndarray] = {}
        futs: dict[int, Future[np.ndarray]] = {}
        if theirs:
            ex = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"), initializer=_worker_init,
                                     initargs=(init_names,))
            futs = {i: ex.submit(_cluster, groups[i], params) for i in theirs}
        for i in mine:
            done[i] = cluster_orig(groups[i], params)
        for i, f in futs.items():
            done[i] = f.result()
        if futs:
            ex.shutdown()
        queue = [done[i] for i in range(len(present))]

        def precomputed(Xc: np.ndarray, p: Any = None) -> np.ndarray:
            labels = queue.pop(0)
            assert len(labels) == len(Xc)
            return labels

        problems.cluster_embeddings = precomputed
        try:
            return orig(items, X, categories, params=params, progress=progress, **kw)
        finally:
            problems.cluster_embeddings = cluster_orig

    find_problems._fm_parallel = True  # type: ignore[attr-defined]
    analysis.find_problems = find_problems


def apply(names: Iterable[str]) -> list[str]:
    """Apply the named changes (idempotent); returns those applied."""
    names = [n for n in names if n]
    unknown = set(names) - set(ALL)
    if unknown:
        raise SystemExit(f"unknown proposed change(s) {sorted(unknown)}; known: {', '.join(ALL)}")
    if "jit" in names and "jit" not in _applied:
        from feedback_miner.adapters.jit_cache import enable_jit_cache

        enable_jit_cache()
    if "knn" in names:
        _patch_umap()
    if "titles" in names:
        _patch_titles()
    if "parallel" in names:
        _patch_parallel(names)
    if "dmat" in names:
        from feedback_miner.stages import umap_distances

        umap_distances.install()
    if "spans" in names:
        from feedback_miner.stages import problems, span_counts

        if hasattr(problems, "outside_counts"):
            problems.outside_counts = span_counts.outside_counts_of_own_spans
    _applied.update(names)
    return sorted(_applied)
