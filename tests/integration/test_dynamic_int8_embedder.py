"""The onnx-dynamic-int8 runtime: built from the packaged model without a download, once, and close
to the float model; each text's vector depends on that text alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from feedback_miner.demo.generate import generate_demo

pytestmark = pytest.mark.slow  # the real model


@pytest.fixture(scope="module")
def texts() -> list[str]:
    rows = generate_demo(weeks=1, end_week="2026-W46", per_week=120)
    return [str(r["text"]) for r in rows][:120]


def _nearest(V: np.ndarray, k: int = 10) -> np.ndarray:
    S = V @ V.T
    np.fill_diagonal(S, -1.0)
    return np.argsort(-S, axis=1)[:, :k]


def test_build_writes_one_file_and_reuses_it(tmp_path: Path) -> None:
    from feedback_miner.adapters.embedders import dynamic_int8_model

    first = dynamic_int8_model(tmp_path)
    assert first.parent == tmp_path and first.suffix == ".onnx" and first.stat().st_size > 1_000_000
    stamp = first.stat().st_mtime_ns
    assert dynamic_int8_model(tmp_path) == first and first.stat().st_mtime_ns == stamp  # not rebuilt
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no build leftovers

    import onnx

    ops = {n.op_type for n in onnx.load(str(first)).graph.node}
    assert "DynamicQuantizeMatMul" in ops or "MatMulInteger" in ops  # integer weight products
    assert "MatMul" in ops  # the attention products stay float


def test_vectors_are_close_to_the_float_model_and_batch_independent(texts: list[str]) -> None:
    from feedback_miner.adapters.embedders import OnnxDynamicInt8Embedder, OnnxInt8Embedder

    fast, ref = OnnxDynamicInt8Embedder(), OnnxInt8Embedder()
    assert fast.model_id != ref.model_id  # cached vectors of the two never mix
    a, b = fast.embed(texts), ref.embed(texts)
    assert a.shape == (len(texts), 384) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    cos = (a * b).sum(axis=1)
    assert cos.mean() >= 0.985 and cos.min() >= 0.95  # measured on these texts: 0.993 / 0.983
    shared = np.mean([len(set(x) & set(y)) / 10 for x, y in zip(_nearest(a), _nearest(b))])
    assert shared >= 0.85  # measured: 0.937
    alone = np.vstack([fast.embed([t]) for t in texts[:12]])
    np.testing.assert_allclose(alone, a[:12], atol=1e-6)  # the same vector alone as among others
    assert fast.embed([]).shape == (0, 384)


def test_settings_choose_the_runtime() -> None:
    from feedback_miner.adapters.embedders import OnnxDynamicInt8Embedder
    from feedback_miner.bootstrap import Container, make_embedder
    from feedback_miner.config import Settings

    assert isinstance(make_embedder(Settings(embedder="onnx-dynamic-int8")), OnnxDynamicInt8Embedder)
    container = Container(Settings(embedder="onnx-int8", online_embedder="onnx-dynamic-int8", jit_cache=False))
    assert isinstance(container.embedder(online=True), OnnxDynamicInt8Embedder)
    assert not isinstance(container.embedder(), OnnxDynamicInt8Embedder)
