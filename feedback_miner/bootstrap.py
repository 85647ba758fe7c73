"""The composition root: the one place that chooses implementations from :class:`Settings`.

Each entry point (the CLI callback, the API's app factory, a benchmark) builds ``Settings`` once
and one :class:`Container`; everything else receives its collaborators from it. Collaborators are
built lazily and at most once (one store, one embedding model per runtime, one classifier).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from feedback_miner.adapters.artefacts import load_classifier
from feedback_miner.adapters.store import Store, open_store
from feedback_miner.config import Settings
from feedback_miner.services.weekly import RunOptions
from feedback_miner.stages.classify import LinearSoftmaxClassifier
from feedback_miner.stages.cluster import ClusterParams
from feedback_miner.stages.protocols import Embedder

__all__ = ["Container", "cluster_params", "make_embedder", "run_options"]


def make_embedder(settings: Settings, *, online: bool = False) -> Embedder:
    """The embedding model; ``online=True`` picks the runtime for single-text API calls."""
    kind = settings.online_embedder if online else settings.embedder
    if kind in ("onnx-int8", "onnx-dynamic-int8"):
        from feedback_miner.adapters.embedders import OnnxDynamicInt8Embedder, OnnxInt8Embedder

        cls = OnnxInt8Embedder if kind == "onnx-int8" else OnnxDynamicInt8Embedder
        return cls(threads=settings.online_threads) if online else cls()
    from feedback_miner.adapters.embedders import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(batch_size=settings.embed_batch_size, verbose=settings.verbose)


def cluster_params(settings: Settings) -> ClusterParams:
    return ClusterParams(min_cluster_size=settings.min_cluster_size, dims=settings.reduce_dims,
                         random_state=settings.random_state, workers=settings.cluster_workers)


def run_options(settings: Settings) -> RunOptions:
    return RunOptions(params=cluster_params(settings), baseline_weeks=settings.baseline_weeks,
                      match_threshold=settings.match_threshold, top_n=settings.top_n,
                      targets=dict(settings.metric_targets))


class Container:
    """The collaborators of one entry point, built from its one ``Settings``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._embedders: dict[bool, Embedder] = {}
        if settings.jit_cache:  # before anything imports umap: compiled code is kept on disk, not rebuilt
            from feedback_miner.adapters.jit_cache import enable_jit_cache

            enable_jit_cache(settings.jit_cache_dir)

    @cached_property
    def store(self) -> Store:
        return open_store(self.settings.database_url)

    def embedder(self, *, online: bool = False) -> Embedder:
        """The batch (default) or online runtime; both are the same model, loaded once each. With a
        Dask scheduler configured (``FM_DASK_SCHEDULER``), batch embedding runs on its workers."""
        own_session = self.settings.online_embedder != "sentence-transformers" and self.settings.online_threads != 1
        kind_online = online and (self.settings.online_embedder != self.settings.embedder or own_session)
        if kind_online not in self._embedders:
            if not online and self.settings.dask_scheduler:
                from feedback_miner.adapters.distributed.embedder import make_dask_embedder

                self._embedders[kind_online] = make_dask_embedder(self.settings)
            else:
                self._embedders[kind_online] = make_embedder(self.settings, online=kind_online)
        return self._embedders[kind_online]

    def classifier(self) -> tuple[LinearSoftmaxClassifier, dict[str, Any]]:
        """The current (or the pinned) classifier version and its manifest, read from ``models/``."""
        return load_classifier(self.settings.models_dir / "classifier", self.settings.classifier_version)

    @property
    def run_options(self) -> RunOptions:
        return run_options(self.settings)


def warm_jit_cache(settings: Settings | None = None) -> Path | None:
    """Compile UMAP's numba code into the JIT cache now (``scripts/setup.sh`` runs it), so the first
    real ``run`` / ``analyze`` loads it instead of paying the compilation: a small group takes UMAP's
    exact-distance path, one above 4,096 rows its precomputed-neighbours path
    (``stages.umap_distances.exact_cosine_knn``). Random vectors; nothing is stored. Returns the
    cache directory (``None`` when the cache is off)."""
    import numpy as np

    from feedback_miner.adapters.jit_cache import enable_jit_cache
    from feedback_miner.stages.cluster import cluster_embeddings

    settings = settings or Settings()
    if not settings.jit_cache:
        return None
    where = enable_jit_cache(settings.jit_cache_dir)
    rng = np.random.default_rng(0)
    for n in (300, 4200):
        X = rng.normal(size=(n, 384)).astype(np.float32)
        cluster_embeddings(X / np.linalg.norm(X, axis=1, keepdims=True), ClusterParams(min_cluster_size=10))
    return where
