"""api.batching.BatchingEmbedder: results go back to the right caller; workers and the window."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from api.batching import BatchingEmbedder


class Recorder:
    """A fake embedder: the vector of a text is its length in every dimension; records batches."""

    model_id, dim = "fake", 4

    def __init__(self, block: threading.Barrier | None = None) -> None:
        self.batches: list[list[str]] = []
        self.entered = threading.Event()
        self.block = block

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        self.entered.set()
        if self.block is not None:
            self.block.wait(timeout=5)
        if any(t == "boom" for t in texts):
            raise RuntimeError("model failed")
        return np.array([[len(t)] * self.dim for t in texts], dtype=np.float32)


def test_each_caller_gets_its_own_vectors_and_errors_reach_every_waiter() -> None:
    inner = Recorder()
    b = BatchingEmbedder(inner, workers=2, window_s=0.01)
    texts = [["a" * (i % 7 + 1)] * (i % 3 + 1) for i in range(40)]
    with ThreadPoolExecutor(8) as ex:
        got = list(ex.map(b.embed, texts))
    for t, v in zip(texts, got):
        assert v.shape == (len(t), 4) and (v[:, 0] == [len(x) for x in t]).all()
    assert sum(len(x) for x in inner.batches) == sum(len(t) for t in texts)
    with pytest.raises(RuntimeError, match="model failed"):
        b.embed(["boom"])
    b.close()


def test_two_workers_run_two_batches_at_once() -> None:
    inner = Recorder(block=threading.Barrier(2))
    b = BatchingEmbedder(inner, workers=2)
    with ThreadPoolExecutor(2) as ex:
        first = ex.submit(b.embed, ["one"])
        assert inner.entered.wait(5)  # the first batch is inside the model...
        second = ex.submit(b.embed, ["two!"])  # ...and the second starts beside it (the barrier needs both)
        assert first.result(10)[0, 0] == 3 and second.result(10)[0, 0] == 4
    assert sorted(map(tuple, inner.batches)) == [("one",), ("two!",)]
    b.close()


def test_the_window_lets_a_lone_request_wait_for_company() -> None:
    inner = Recorder()
    b = BatchingEmbedder(inner, window_s=1.0)
    with ThreadPoolExecutor(2) as ex:
        first = ex.submit(b.embed, ["x"])
        time.sleep(0.05)
        second = ex.submit(b.embed, ["yy"])
        first.result(10), second.result(10)
    assert inner.batches == [["x", "yy"]]
    b.close()
