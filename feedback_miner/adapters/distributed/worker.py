"""What runs on a Dask worker: the embedding model, loaded once per worker process, and the task
that embeds one partition of texts with it.

The model is built by :func:`load_model` and kept in this module for the life of the worker
process; :class:`ModelPlugin` loads it when a worker joins (so the first partition does not pay for
it; the plugin lives in :mod:`.embedder`), and the task loads it on first use where the plugin
did not run. Every worker thread shares
the one model, each op on one thread: parallelism comes from Dask (a worker process or thread per
core), not from torch inside a task.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from feedback_miner.errors import ConfigError
from feedback_miner.stages.protocols import Embedder

__all__ = ["RUNTIMES", "RuntimeSpec", "build_runtime", "embed_partition", "load_model", "model_info"]

Runtime = Literal["sentence-transformers", "onnx-int8"]
RUNTIMES: tuple[Runtime, ...] = ("sentence-transformers", "onnx-int8")

_MODELS: dict[RuntimeSpec, Embedder] = {}
_LOADS: Counter[RuntimeSpec] = Counter()
_LOCK = threading.Lock()


@dataclass(frozen=True)
class RuntimeSpec:
    """Which model runtime a worker loads, with its batch size; hashable, so it keys the cache."""

    runtime: Runtime = "sentence-transformers"
    batch_size: int = 64

    def __post_init__(self) -> None:
        if self.runtime not in RUNTIMES:
            raise ConfigError(f"embedding runtime {self.runtime!r} is not one of {', '.join(RUNTIMES)}")
        if self.batch_size < 1:
            raise ConfigError(f"embedding batch size must be >= 1, got {self.batch_size}")


def build_runtime(spec: RuntimeSpec, *, threads: int | None = None) -> Embedder:
    """The local embedder of ``spec`` (the same classes the single-process path uses)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if spec.runtime == "onnx-int8":
        from feedback_miner.adapters.embedders import OnnxInt8Embedder

        return OnnxInt8Embedder(batch_size=spec.batch_size, threads=threads)
    from feedback_miner.adapters.embedders import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(batch_size=spec.batch_size, threads=threads)


def load_model(spec: RuntimeSpec) -> Embedder:
    """This process's model for ``spec``, built on first use (one thread per op)."""
    with _LOCK:
        model = _MODELS.get(spec)
        if model is None:
            model = _MODELS[spec] = build_runtime(spec, threads=1)
            _LOADS[spec] += 1
        return model


def embed_partition(spec: RuntimeSpec, texts: list[str]) -> tuple[str, np.ndarray]:
    """The Dask task: ``(model id, vectors)`` of one partition, in the order of ``texts``."""
    model = load_model(spec)
    return model.model_id, model.embed(texts)


def model_info(spec: RuntimeSpec) -> dict[str, Any]:
    """Model id, dimension, process id and how often this process has loaded the model."""
    model = load_model(spec)
    return {"model_id": model.model_id, "dim": model.dim, "pid": os.getpid(), "loads": _LOADS[spec]}
