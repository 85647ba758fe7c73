"""Cluster stage: recurring problems within one category by UMAP + HDBSCAN.

Embeddings are reduced with UMAP (cosine, ``dims`` components, fixed ``random_state`` so the same
input gives the same problems), clustered with HDBSCAN, and texts HDBSCAN calls noise join the
nearest cluster only when their cosine similarity to its centroid reaches ``assign_threshold``;
the rest stay unclustered (kept and counted, never dropped). Choices measured in
``benchmarks/bench_quality.py`` (banking77: UMAP+HDBSCAN vs PCA/raw, vs BERTopic defaults).
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from feedback_miner.errors import InputError

__all__ = ["MCS_GRID", "PARALLEL_FROM", "SMALL_GROUP_COHERENCE", "SMALL_GROUP_MIN", "ClusterParams", "auto_min_cluster_size", "centroids", "cluster_embeddings",
           "cluster_groups", "mean_pairwise_cosine", "select_min_size"]


@dataclass(frozen=True)
class ClusterParams:
    min_cluster_size: int = 0  # 0 = auto_min_cluster_size(n)
    dims: int = 8
    n_neighbors: int = 15
    assign_threshold: float = 0.5
    random_state: int = 42
    # UMAP's optimisation epochs; 0 = UMAP's own default (500 below 10,000 rows, 200 above).
    n_epochs: int = 0
    # "auto": leaf selection at auto_min_cluster_size(n), raised to the size that DBCV finds best when
    # the group is made of larger dense groups (select_min_size; below RAISE_BELOW times the floor).
    # "leaf" / "eom": that method at min_cluster_size (0 = auto_min_cluster_size(n)).
    selection: str = "auto"
    # Processes over which a run's categories are clustered (each category is independent and UMAP
    # is seeded, so the labels are the same whatever the number); 0 = both cores when a run holds
    # PARALLEL_FROM texts or more (below that a second process costs more than it saves).
    workers: int = 1

    def __post_init__(self) -> None:
        if self.min_cluster_size < 0 or self.min_cluster_size == 1:
            raise InputError(f"min_cluster_size must be 0 (auto) or >= 2, got {self.min_cluster_size}")
        if self.dims < 2:
            raise InputError(f"dims must be >= 2, got {self.dims}")
        if self.n_neighbors < 2:
            raise InputError(f"n_neighbors must be >= 2, got {self.n_neighbors}")
        if self.selection not in ("auto", "leaf", "eom"):
            raise InputError(f"selection must be 'auto', 'leaf' or 'eom', got {self.selection!r}")
        if self.n_epochs < 0:
            raise InputError(f"n_epochs must be 0 (UMAP's default) or >= 1, got {self.n_epochs}")
        if self.workers < 0:
            raise InputError(f"workers must be 0 (auto) or >= 1, got {self.workers}")
        if not -1.0 <= self.assign_threshold <= 1.0:
            raise InputError(f"assign_threshold must be in [-1, 1], got {self.assign_threshold}")


log = logging.getLogger(__name__)

SINGLE_CLUSTER_BELOW = 60
PARALLEL_FROM = 8000
"""Texts in a run from which ``workers=0`` clusters categories in a second process: measured, a
second process gained 2.2 s of 18.9 at 10,000 texts and 9 s of 48 at 40,000, and lost about 3 s at
3,600 (`analyze`, one run beside other work: its start and imports cost more than its share)."""
RAISE_BELOW = 2.0
"""``selection="auto"`` raises the leaf size to the DBCV size, but stays below this many times the floor.

Measured (benchmarks/README.md section 2b): taking the DBCV size whole, with "eom" from twice the
floor, made bitext's 100-300-text intents whole (ARI 0.577, 2.48 problems an intent) but lumped
real mixed feedback: on the 10,000-text end-to-end sample (categories predicted, 4,000 intent
labels; bench_e2e.py) NMI 0.759 -> 0.645 and ARI 0.388 -> 0.161 against the floor alone. Capped
below twice the floor, leaf: 0.739 / 0.404 there, bitext 0.547 / 2.70, banking77 unchanged."""
MCS_GRID = (5, 8, 12, 18, 27, 40, 60)
"""Min cluster sizes tried by ``selection="auto"`` (each at most half the group)."""


def auto_min_cluster_size(n: int) -> int:
    """Twice the natural log of the group size, at least 3: 10 → 5, 40 → 7, 400 → 12, 3000 → 16.

    Measured against half the square root (benchmarks/README.md): on banking77 NMI 0.842 / ARI
    0.578 vs 0.841 / 0.559; in the 58-week replay 6.5 vs 12.1 false alerts per 10 weeks and spike
    id stability 0.81 vs 0.62, with the same recall.
    """
    return max(3, round(2 * math.log(max(n, 1))))


def centroids(X: np.ndarray, labels: np.ndarray) -> dict[int, np.ndarray]:
    out: dict[int, np.ndarray] = {}
    for k in sorted(int(v) for v in set(labels.tolist()) if v >= 0):
        c = X[labels == k].mean(axis=0)
        out[k] = c / max(float(np.linalg.norm(c)), 1e-12)
    return out


SMALL_GROUP_MIN = 5
"""Fewest texts that make a problem in a group too small for HDBSCAN to split (``_small_group``; or
the min cluster size when that is larger); fewer stay unclustered (and, when severe, the digest still lists them)."""
SMALL_GROUP_COHERENCE = 0.5
"""Mean pairwise cosine from which a group too small to split (fewer than twice its min cluster size)
is one problem. Measured on groups of 5-9 texts (onnx-int8 vectors, 400 draws a set:
``python benchmarks/bench_small_groups.py`` -> results/small_groups.json): one banking77 / bitext
intent reaches it in 82% / 88% of draws; one category of real app reviews (google_play 4-class,
review_pulse) in 0% / 1.3%. (A scratch look at the replay's store, not a committed command: a week's
6 planted "card arrival" texts have 0.586, the replay's small background groups at most 0.489.)

Not applied to HDBSCAN's single-cluster fallback (below ``SINGLE_CLUSTER_BELOW`` texts), though
that fallback lumps small mixed groups (the same benchmark, 8-9 texts of one google_play /
review_pulse category: 63% / 89% of draws became one problem): gating it at 0.5 / 0.4 / 0.35 raised the 58-week replay's false alerts from
2.4 to 3.2 / 3.2 / 4.8 per 10 steady weeks (benchmarks/README.md, "Small groups")."""


def mean_pairwise_cosine(X: np.ndarray) -> float:
    """Mean cosine over the distinct pairs of unit rows ``X`` (0.0 for fewer than two rows)."""
    n = len(X)
    if n < 2:
        return 0.0
    total = X.sum(axis=0, dtype=np.float64)
    return (float(total @ total) - float(np.einsum("ij,ij->", X, X, dtype=np.float64))) / (n * (n - 1))


def _small_group(X: np.ndarray, assign_threshold: float, least: int = SMALL_GROUP_MIN) -> np.ndarray:
    """Labels for a group too small to split: one problem when its texts are one coherent topic
    (mean pairwise cosine >= ``SMALL_GROUP_COHERENCE``; members nearer than ``assign_threshold`` to
    its centroid only, at least ``least`` of them), otherwise all unclustered."""
    labels = np.full(len(X), -1, dtype=np.int64)
    if len(X) < least or mean_pairwise_cosine(X) < SMALL_GROUP_COHERENCE:
        return labels
    c = X.mean(axis=0)
    near = X @ (c / max(float(np.linalg.norm(c)), 1e-12)) >= assign_threshold
    if int(near.sum()) >= least:
        labels[near] = 0
    return labels


def select_min_size(Z: np.ndarray, grid: tuple[int, ...] = MCS_GRID) -> int | None:
    """The min cluster size of ``grid`` whose "eom" clustering of ``Z`` has the best DBCV; ``None``
    when no size gives two clusters or more.

    One fixed size cannot serve groups of 10 and of 1,000 texts: a size that keeps 40-text problems
    apart splits 200-text ones into fragments, and one that keeps those whole lumps the small ones.
    DBCV (Moulavi et al. 2014) scores how dense clusters are against the gaps between them, so the
    size follows the data. Used as a capped raise over the 2 ln n floor (``RAISE_BELOW``), measured with
    ``benchmarks/bench_problems.py`` against the floor alone: bitext (100-300 texts an intent) ARI
    0.464 -> 0.547, problems per intent 4.11 -> 2.70; banking77 (40 an intent) unchanged. Uncapped
    (EOM at the DBCV size) it did better on bitext and lumped real mixed feedback (``RAISE_BELOW``).
    """
    import hdbscan

    best: tuple[float, int] | None = None
    for mcs in grid:
        if len(Z) < 2 * mcs:
            break
        model = hdbscan.HDBSCAN(min_cluster_size=mcs, cluster_selection_method="eom", gen_min_span_tree=True).fit(Z)
        if np.asarray(model.labels_).max(initial=-1) < 1:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = float(model.relative_validity_)
        if np.isfinite(score) and (best is None or score > best[0]):
            best = (score, mcs)
    return None if best is None else best[1]


def cluster_embeddings(X: np.ndarray, params: ClusterParams | None = None) -> np.ndarray:
    """Cluster labels (0..k-1, -1 = unclustered) for unit-normalised embeddings ``X``."""
    import hdbscan

    params = params or ClusterParams()
    X = np.asarray(X, dtype=np.float32)
    n = len(X)
    mcs = params.min_cluster_size or auto_min_cluster_size(n)
    if n < max(2 * mcs, 6):
        return _small_group(X, params.assign_threshold, max(SMALL_GROUP_MIN, mcs))
    if n > params.dims + 2:
        import umap

        from feedback_miner.stages import umap_distances

        umap_distances.install()  # the same distance matrix as scikit-learn's, in one compiled loop

        k = min(params.n_neighbors, n - 1)
        # Above UMAP's small-data size, exact neighbours by matrix products instead of pynndescent.
        knn = umap_distances.exact_cosine_knn(X, k) if n >= umap_distances.SMALL_DATA_BELOW else (None, None, None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Z = umap.UMAP(
                n_neighbors=k, n_components=params.dims, min_dist=0.0,
                metric="cosine", random_state=params.random_state, n_jobs=1, precomputed_knn=knn,
                n_epochs=params.n_epochs or None,
            ).fit_transform(X)
    else:
        Z = X
    method = params.selection
    if method == "auto":
        method = "leaf"
        chosen = None if params.min_cluster_size else select_min_size(Z)
        if chosen is not None and chosen > mcs:
            # The data holds larger dense groups than the floor: raise the size toward theirs,
            # by less than RAISE_BELOW times the floor, keeping leaf selection (see RAISE_BELOW).
            mcs = min(chosen, math.ceil(RAISE_BELOW * mcs) - 1)
    labels = hdbscan.HDBSCAN(min_cluster_size=mcs, cluster_selection_method=method).fit_predict(Z)
    if n < SINGLE_CLUSTER_BELOW and (np.asarray(labels) < 0).all():
        # A small group may hold one problem only; HDBSCAN finds none then unless allowed.
        labels = hdbscan.HDBSCAN(min_cluster_size=mcs, cluster_selection_method="eom",
                                 allow_single_cluster=True).fit_predict(Z)
    labels = np.asarray(labels, dtype=np.int64)
    cents = centroids(X, labels)
    if cents:
        keys = np.array(list(cents))
        sims = X @ np.stack([cents[k] for k in keys]).T
        best = sims.argmax(axis=1)
        noise = (labels == -1) & (sims[np.arange(n), best] >= params.assign_threshold)
        labels[noise] = keys[best[noise]]
    return labels


def _cluster_in_worker(X: np.ndarray, params: ClusterParams) -> np.ndarray:
    # Submitted by name rather than cluster_embeddings itself: the worker resolves it at call time,
    # so a wrapped cluster_embeddings in this process (a profiler, the benchmarks' stage clock) is
    # never pickled.
    return cluster_embeddings(X, params)


def _worker_init(jit_cache_dir: str | None) -> None:
    if jit_cache_dir:
        from feedback_miner.adapters.jit_cache import enable_jit_cache

        enable_jit_cache(Path(jit_cache_dir))


def _split_by_cost(sizes: Sequence[int], workers: int) -> list[list[int]]:
    """Groups over workers, largest first to the least loaded (cost n log n); bin 0 is this process."""
    bins: list[list[int]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for i in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        w = load.index(min(load))
        bins[w].append(i)
        load[w] += sizes[i] * math.log(max(sizes[i], 2))
    return bins


def cluster_groups(groups: Sequence[np.ndarray], params: ClusterParams | None = None,
                   on_done: Callable[[int], None] | None = None) -> list[np.ndarray]:
    """:func:`cluster_embeddings` of each group (a run's categories), over ``params.workers``
    processes: the same labels as one process gives, in the order of ``groups``.

    The second process is spawned (no fork of a process holding threads and model sessions) and
    loads the compiled UMAP code from the JIT cache when this process uses one; if it cannot start
    or dies, its groups are clustered here. Like any spawned process it imports the main module
    again: a script that sets ``workers`` != 1 needs the ``if __name__ == "__main__":`` guard (the
    CLI and the API have it). ``on_done(i)`` is called as group ``i`` is finished (progress).
    """
    params = params or ClusterParams()
    sizes = [len(g) for g in groups]
    workers = params.workers
    if workers == 0:
        workers = min(2, os.cpu_count() or 1) if sum(sizes) >= PARALLEL_FROM else 1
    workers = min(workers, sum(1 for n in sizes if n >= 2 * auto_min_cluster_size(n)))  # groups that cluster
    out: dict[int, np.ndarray] = {}

    def here(i: int) -> None:
        out[i] = cluster_embeddings(groups[i], params)
        if on_done:
            on_done(i)

    if workers <= 1:
        for i in range(len(groups)):
            here(i)
        return [out[i] for i in range(len(groups))]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from feedback_miner.adapters.jit_cache import jit_cache_enabled

    mine, *theirs = _split_by_cost(sizes, workers)
    cache = jit_cache_enabled()
    with ProcessPoolExecutor(workers - 1, mp_context=mp.get_context("spawn"), initializer=_worker_init,
                             initargs=(str(cache) if cache else None,)) as pool:
        futures = {i: pool.submit(_cluster_in_worker, np.asarray(groups[i], dtype=np.float32), params)
                   for b in theirs for i in b}
        for i in mine:
            here(i)
        for i, f in futures.items():
            try:
                out[i] = f.result()
            except BrokenProcessPool as exc:  # the worker could not start or died: do its share here
                log.warning("clustering worker process failed (%s); clustering category %d in this process", exc, i)
                here(i)
                continue
            if on_done:
                on_done(i)
    return [out[i] for i in range(len(groups))]
