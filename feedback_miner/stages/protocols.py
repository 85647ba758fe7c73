"""Plug-in points: small Protocols with one return type each. Doubles live in ``testing.py``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np

__all__ = ["Embedder", "EmbeddingCache", "NullProgress", "Progress"]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of shape ``(len(texts), dim)``."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class EmbeddingCache(Protocol):
    """Vectors keyed by (model id, text hash)."""

    def get_vectors(self, model_id: str, hashes: Sequence[str]) -> Mapping[str, np.ndarray]: ...

    def put_vectors(self, model_id: str, vectors: Mapping[str, np.ndarray]) -> None: ...


class Progress(Protocol):
    """Reports progress of a long step."""

    def start(self, description: str, total: int) -> None: ...

    def advance(self, n: int = 1) -> None: ...

    def finish(self) -> None: ...


class NullProgress:
    """A progress reporter that reports nothing."""

    def start(self, description: str, total: int) -> None:
        return None

    def advance(self, n: int = 1) -> None:
        return None

    def finish(self) -> None:
        return None
