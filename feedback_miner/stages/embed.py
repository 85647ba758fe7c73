"""Embed stage: vectors for texts, reusing the cache so a re-run never re-embeds."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from feedback_miner.stages.protocols import Embedder, EmbeddingCache, NullProgress, Progress

__all__ = ["embed_texts", "text_hash"]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def embed_texts(
    texts: Sequence[str],
    embedder: Embedder,
    *,
    cache: EmbeddingCache | None = None,
    chunk_size: int = 1024,
    progress: Progress | None = None,
) -> np.ndarray:
    """Return ``(len(texts), dim)`` unit vectors; texts already cached for this model are not re-embedded.

    Texts go to the embedder in chunks of ``chunk_size`` (the embedder batches and length-sorts
    within a chunk, so large chunks waste less padding); progress advances per chunk and each chunk
    is cached as soon as it is embedded, so an interrupted run keeps its work.
    """
    progress = progress or NullProgress()
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    if not texts:
        return out
    hashes = [text_hash(t) for t in texts]
    cached = dict(cache.get_vectors(embedder.model_id, sorted(set(hashes)))) if cache else {}
    todo: dict[str, str] = {}
    for h, t in zip(hashes, texts):
        if h not in cached and h not in todo:
            todo[h] = t
    if todo:
        keys = list(todo)
        progress.start(f"Embedding new texts ({embedder.model_id})", len(keys))
        for i in range(0, len(keys), chunk_size):
            chunk = keys[i : i + chunk_size]
            vecs = embedder.embed([todo[h] for h in chunk])
            fresh = {h: vecs[j] for j, h in enumerate(chunk)}
            cached.update(fresh)
            if cache:
                cache.put_vectors(embedder.model_id, fresh)
            progress.advance(len(chunk))
        progress.finish()
    for i, h in enumerate(hashes):
        out[i] = cached[h]
    return out
