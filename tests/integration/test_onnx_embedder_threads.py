"""The int8 ONNX embedder gives the same vectors whatever its thread, spin and batch settings."""

from __future__ import annotations

import numpy as np
import pytest

from feedback_miner.demo.generate import generate_demo

pytestmark = pytest.mark.slow  # the real model


@pytest.fixture(scope="module")
def texts() -> list[str]:
    rows = generate_demo(weeks=1, end_week="2026-W46", per_week=120)
    return [str(r["text"]) for r in rows][:120]


def test_two_workers_one_thread_each_match_one_session_thread_pool(texts: list[str]) -> None:
    from feedback_miner.adapters.embedders import OnnxInt8Embedder

    before = OnnxInt8Embedder(batch_size=16, threads=None, workers=1, spinning=True).embed(texts)
    after = OnnxInt8Embedder(batch_size=8, threads=1, workers=2).embed(texts)
    assert after.shape == (len(texts), 384) and after.dtype == np.float32
    np.testing.assert_allclose(after, before, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(after, axis=1), 1.0, atol=1e-5)

    alone = np.vstack([OnnxInt8Embedder().embed([t]) for t in texts[:10]])  # the one-text path (API calls)
    np.testing.assert_allclose(alone, after[:10], atol=1e-6)
    assert OnnxInt8Embedder().embed([]).shape == (0, 384)
