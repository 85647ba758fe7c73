"""Micro-batching for the embedding model: concurrent single-text requests share one forward pass.

Worker threads own the model; callers enqueue texts and wait. Whatever queued while the model
was busy goes in the next batch, so under load the per-request cost falls instead of requests
queueing behind each other (and the model's threads never oversubscribe the CPU).

``workers`` threads take batches from the one queue, so with a runtime that releases the GIL
(int8 ONNX does) a second batch starts on the other core while the first runs. ``window_s``
lets a worker that found a lone request wait that long for company before running it (0 = never
wait; measured in docs/PERFORMANCE.md). Nothing per request is larger than its own vectors.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future

import numpy as np

from feedback_miner.stages.protocols import Embedder

__all__ = ["BatchingEmbedder"]

_Job = tuple[Sequence[str], "Future[np.ndarray]"]


class BatchingEmbedder:
    """An :class:`Embedder` that funnels calls from many threads into batched calls of ``inner``."""

    def __init__(self, inner: Embedder, *, max_batch: int = 64, workers: int = 1, window_s: float = 0.0) -> None:
        self.inner, self.max_batch = inner, max_batch
        self.workers, self.window_s = max(1, workers), max(0.0, window_s)
        self._q: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
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
        self._ensure_workers()
        fut: Future[np.ndarray] = Future()
        self._q.put((texts, fut))
        return fut.result()

    def close(self) -> None:
        """Stop the worker threads (pending calls are served first)."""
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._q.put(None)
        for t in threads:
            t.join(10)

    def _ensure_workers(self) -> None:
        if len(self._threads) == self.workers and all(t.is_alive() for t in self._threads):
            return
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            while len(self._threads) < self.workers:
                t = threading.Thread(target=self._work, name=f"embed-batcher-{len(self._threads)}", daemon=True)
                t.start()
                self._threads.append(t)

    def _gather(self, first: _Job) -> tuple[list[_Job], bool]:
        """``first`` plus whatever is queued (up to ``max_batch`` texts); True if a stop was seen."""
        jobs = [first]
        n = len(first[0])
        deadline = time.monotonic() + self.window_s if self.window_s else 0.0
        while n < self.max_batch:
            try:
                nxt = self._q.get_nowait() if not deadline else self._q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if nxt is None:
                return jobs, True
            jobs.append(nxt)
            n += len(nxt[0])
        return jobs, False

    def _work(self) -> None:
        while True:
            first = self._q.get()
            if first is None:
                return
            jobs, stop = self._gather(first)
            texts = [t for batch, _ in jobs for t in batch] if len(jobs) > 1 else list(first[0])
            try:
                vecs = self.inner.embed(texts)
            except Exception as exc:  # noqa: BLE001 - handed to every waiting caller, who re-raises it
                for _, fut in jobs:
                    fut.set_exception(exc)
            else:
                start = 0
                for batch, fut in jobs:
                    fut.set_result(vecs[start:start + len(batch)])
                    start += len(batch)
            if stop:
                return
