"""Deterministic doubles for the Protocols, for unit tests (never behind a feature).

* :class:`HashingEmbedder` — bag of hashed word n-grams, L2-normalised; similar texts share words,
  so they land close together, which is enough to exercise classification and clustering logic.
* :class:`MemoryCache` — an in-memory :class:`EmbeddingCache` that counts what it stored.
* :class:`RecordingProgress` — records progress calls.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["HashingEmbedder", "MemoryCache", "RecordingProgress"]


class HashingEmbedder:
    def __init__(self, dim: int = 256) -> None:
        self._dim = dim
        self.calls = 0
        self.texts_embedded = 0

    @property
    def model_id(self) -> str:
        return f"hashing-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for i, t in enumerate(texts):
            words = re.findall(r"[a-z0-9]+", t.lower())
            for tok in words + [a + " " + b for a, b in zip(words, words[1:])]:
                h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "little")
                out[i, h % self._dim] += 1.0 if (h >> 63) & 1 else -1.0
            n = np.linalg.norm(out[i])
            out[i] = out[i] / n if n > 0 else out[i]
            if n == 0:
                out[i, 0] = 1.0
        return out


class MemoryCache:
    def __init__(self) -> None:
        self.data: dict[tuple[str, str], np.ndarray] = {}

    def get_vectors(self, model_id: str, hashes: Sequence[str]) -> Mapping[str, np.ndarray]:
        return {h: self.data[(model_id, h)] for h in hashes if (model_id, h) in self.data}

    def put_vectors(self, model_id: str, vectors: Mapping[str, np.ndarray]) -> None:
        for h, v in vectors.items():
            self.data[(model_id, h)] = np.asarray(v, dtype=np.float32)


class RecordingProgress:
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def start(self, description: str, total: int) -> None:
        self.events.append(("start", (description, total)))

    def advance(self, n: int = 1) -> None:
        self.events.append(("advance", n))

    def finish(self) -> None:
        self.events.append(("finish", None))
