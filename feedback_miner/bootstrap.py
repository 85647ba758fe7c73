"""The one place that chooses implementations from :class:`Settings`."""

from __future__ import annotations

from typing import Any

from feedback_miner.adapters.artefacts import load_classifier
from feedback_miner.adapters.store import Store, open_store
from feedback_miner.config import Settings
from feedback_miner.stages.classify import LinearSoftmaxClassifier
from feedback_miner.stages.cluster import ClusterParams
from feedback_miner.stages.protocols import Embedder

__all__ = ["make_embedder", "make_classifier", "make_store", "cluster_params"]


def make_embedder(settings: Settings, *, online: bool = False) -> Embedder:
    """The embedding model; ``online=True`` picks the runtime for single-text API calls."""
    kind = settings.online_embedder if online else settings.embedder
    if kind == "onnx-int8":
        from feedback_miner.adapters.embedders import OnnxInt8Embedder

        return OnnxInt8Embedder()
    from feedback_miner.adapters.embedders import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(batch_size=settings.embed_batch_size)


def make_classifier(settings: Settings) -> tuple[LinearSoftmaxClassifier, dict[str, Any]]:
    return load_classifier(settings.models_dir / "classifier", settings.classifier_version)


def make_store(settings: Settings) -> Store:
    return open_store(settings.database_url)


def cluster_params(settings: Settings) -> ClusterParams:
    return ClusterParams(min_cluster_size=settings.min_cluster_size, dims=settings.reduce_dims,
                         random_state=settings.random_state)
