"""The API's classify runtime: onnx-dynamic-int8 by default, a session of its own beside the batch
int8 ONNX one; with the batch runtime chosen for it too, it shares the batch session unless
FM_ONLINE_THREADS asks for a session of its own, which then gets that many intra-op threads."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

import feedback_miner.adapters.embedders as embedders
from feedback_miner import bootstrap
from feedback_miner.config import Settings


class _Recorder:
    kind = "int8"
    made: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def __init__(self, **kwargs: Any) -> None:
        _Recorder.made.append((self.kind, kwargs))


class _DynamicRecorder(_Recorder):
    kind = "dynamic"


@pytest.fixture(autouse=True)
def _fake_onnx(monkeypatch: pytest.MonkeyPatch) -> None:
    _Recorder.made = []
    monkeypatch.setattr(embedders, "OnnxInt8Embedder", _Recorder)
    monkeypatch.setattr(embedders, "OnnxDynamicInt8Embedder", _DynamicRecorder)


def test_default_classify_runtime_is_the_dynamic_int8_model() -> None:
    c = bootstrap.Container(Settings(jit_cache=False))
    online, batch = c.embedder(online=True), c.embedder()
    assert online is not batch and online is c.embedder(online=True)
    assert _Recorder.made == [("dynamic", {"threads": 1}), ("int8", {})]


def test_one_runtime_for_both_shares_one_session() -> None:
    c = bootstrap.Container(Settings(jit_cache=False, online_embedder="onnx-int8"))
    assert c.embedder(online=True) is c.embedder()
    assert _Recorder.made == [("int8", {})]


def test_online_threads_gives_the_api_its_own_session() -> None:
    c = bootstrap.Container(Settings(jit_cache=False, online_embedder="onnx-int8", online_threads=2))
    online, batch = c.embedder(online=True), c.embedder()
    assert online is not batch
    assert _Recorder.made == [("int8", {"threads": 2}), ("int8", {})]
