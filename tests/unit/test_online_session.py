"""The API's classify runtime: it shares the batch int8 ONNX session unless FM_ONLINE_THREADS asks for
a session of its own, which then gets that many intra-op threads."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

import feedback_miner.adapters.embedders as embedders
from feedback_miner import bootstrap
from feedback_miner.config import Settings


class _Recorder:
    made: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, **kwargs: Any) -> None:
        _Recorder.made.append(kwargs)


@pytest.fixture(autouse=True)
def _fake_onnx(monkeypatch: pytest.MonkeyPatch) -> None:
    _Recorder.made = []
    monkeypatch.setattr(embedders, "OnnxInt8Embedder", _Recorder)


def test_default_shares_one_session() -> None:
    c = bootstrap.Container(Settings(jit_cache=False))
    assert c.embedder(online=True) is c.embedder()
    assert _Recorder.made == [{}]


def test_online_threads_gives_the_api_its_own_session() -> None:
    c = bootstrap.Container(Settings(jit_cache=False, online_threads=2))
    online, batch = c.embedder(online=True), c.embedder()
    assert online is not batch
    assert _Recorder.made == [{"threads": 2}, {}]
