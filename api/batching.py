"""Micro-batching for the embedding model: concurrent single-text requests share one forward pass.

One worker thread owns the model; callers enqueue texts and wait. Whatever queued while the model
was busy goes in the next batch, so under load the per-request cost falls instead of requests
queueing behind each other (and torch threads never oversubscribe the CPU).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future

import numpy as np

from feedback_miner.stages.protocols import Embedder

__all__ = ["BatchingEmbedder"]


class BatchingEmbedder:
    """An :class:`Embedder` that funnels calls from many threads into batched calls of ``inner``."""

    def __init__(self, inner: Embedder, *, max_batch: int = 64) -> None:
        self.inner, self.max_batch = inner, max_batch
        self._q: queue.SimpleQueue[tuple[list[str], Future[np.ndarray]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self._ensure_worker()
        fut: Future[np.ndarray] = Future()
        self._q.put((list(texts), fut))
        return fut.result()

    def close(self) -> None:
        """Stop the worker thread (pending calls are served first)."""
        if self._thread is not None:
            self._q.put(None)
            self._thread.join(10)
            self._thread = None

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="embed-batcher", daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            first = self._q.get()
            if first is None:
                return
            jobs = [first]
            n = len(first[0])
            while n < self.max_batch:
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._q.put(None)
                    break
                jobs.append(nxt)
                n += len(nxt[0])
            try:
                vecs = self.inner.embed([t for texts, _ in jobs for t in texts])
            except Exception as exc:  # noqa: BLE001 - handed to every waiting caller, who re-raises it
                for _, fut in jobs:
                    fut.set_exception(exc)
                continue
            start = 0
            for texts, fut in jobs:
                fut.set_result(vecs[start:start + len(texts)])
                start += len(texts)
