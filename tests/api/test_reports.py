"""Runs, digests and problems in-process with the doubles: ingest → run → digest, 404/409/422."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from feedback_miner.config import Settings
from feedback_miner.demo.generate import generate_demo
from feedback_miner.testing import HashingEmbedder
from tests.api.conftest import auth, keyword_classifier

WEEK = "2026-W46"


def demo_items(weeks: int = 2, per_week: int = 120) -> list[dict[str, Any]]:
    """Demo rows as API items (empty values dropped)."""
    return [{k: v for k, v in r.items() if v not in ("", None)}
            for r in generate_demo(weeks=weeks, end_week=WEEK, per_week=per_week)]


def ingest(client: TestClient, key: str, items: list[dict[str, Any]]) -> None:
    for i in range(0, len(items), 50):
        r = client.post("/v1/feedback", json={"items": items[i:i + 50]}, headers=auth(key))
        assert r.status_code == 200 and r.json()["counts"]["rejected"] == 0, r.text


def wait_done(client: TestClient, key: str, week: str, timeout: float = 120) -> dict[str, Any]:
    """Poll GET /v1/runs until the newest run of ``week`` has ended."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        runs = [r for r in client.get("/v1/runs", headers=auth(key)).json() if r["week"] == week]
        if runs and runs[0]["status"] != "running":
            return dict(runs[0])
        time.sleep(0.1)
    raise AssertionError("run did not finish")


@pytest.fixture(scope="module")
def ran() -> Any:
    """One app over a store with two demo weeks, both run; shared by the read tests."""
    import tempfile

    from feedback_miner.adapters.keys import create_key
    from feedback_miner.adapters.store import open_store

    tmp = tempfile.mkdtemp()
    s = Settings(database_url=f"sqlite:///{tmp}/r.db")
    st = open_store(s.database_url)
    keys = {r: create_key(st, role=r, name=r)[0] for r in ("ingest", "reader", "admin")}
    emb = HashingEmbedder(dim=128)
    with TestClient(create_app(s, embedder=emb, classifier=keyword_classifier(emb), store=st)) as c:
        ingest(c, keys["ingest"], demo_items())
        for w in ("2026-W45", WEEK):
            r = c.post("/v1/runs", json={"week": w}, headers=auth(keys["admin"]))
            assert r.status_code == 202 and r.json() == {**r.json(), "week": w, "status": "running"}
            assert wait_done(c, keys["admin"], w)["status"] == "done"
        yield c, keys


def test_digest_json_md_html(ran: Any) -> None:
    c, keys = ran
    d = c.get(f"/v1/digests/{WEEK}", headers=auth(keys["reader"]))
    assert d.status_code == 200 and d.json()["period"] == WEEK and d.json()["counts"]["analysed"] > 0
    md = c.get(f"/v1/digests/{WEEK}?format=md", headers=auth(keys["reader"]))
    assert md.headers["content-type"].startswith("text/markdown") and WEEK in md.text
    html = c.get(f"/v1/digests/{WEEK}?format=html", headers=auth(keys["reader"]))
    assert html.headers["content-type"].startswith("text/html") and "<html" in html.text


def test_digest_errors(ran: Any) -> None:
    c, keys = ran
    r = c.get("/v1/digests/2020-W01", headers=auth(keys["reader"]))
    assert r.status_code == 404 and "never been run" in r.json()["message"]
    r = c.get("/v1/digests/last-week", headers=auth(keys["reader"]))
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "path.iso_week"
    r = c.get("/v1/digests/2026-W60", headers=auth(keys["reader"]))
    assert r.status_code == 422 and "iso_week" in r.json()["message"]
    r = c.get(f"/v1/digests/{WEEK}?format=pdf", headers=auth(keys["reader"]))
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "query.format"


def test_problems_list_filter_paginate_detail(ran: Any) -> None:
    c, keys = ran
    h = auth(keys["reader"])
    page = c.get("/v1/problems", params={"week": WEEK, "limit": 2}, headers=h).json()
    assert page["total"] >= 2 and len(page["items"]) == 2
    prios = [p["priority"] for p in page["items"]]
    assert prios == sorted(prios, reverse=True)
    nxt = c.get("/v1/problems", params={"week": WEEK, "limit": 2, "offset": 2}, headers=h).json()
    assert not {p["id"] for p in page["items"]} & {p["id"] for p in nxt["items"]}
    cat = page["items"][0]["category"]
    only = c.get("/v1/problems", params={"category": cat}, headers=h).json()
    assert only["items"] and all(p["category"] == cat for p in only["items"])
    pid = page["items"][0]["id"]
    detail = c.get(f"/v1/problems/{pid}", headers=h).json()
    assert detail["id"] == pid and WEEK in detail["weekly_counts"] and detail["members"]
    assert detail["members"][0]["text"]
    assert c.get("/v1/problems/nope-999", headers=h).status_code == 404


def test_classify_sees_problems_found_by_runs(ran: Any) -> None:
    """The centroid cache was refreshed after the run: a member's quote maps to its problem's family.

    The hashing double puts single texts far from cluster centroids, so the 0.6 cut-off (tested
    with an exact centroid in test_feedback) is lowered here to check the wiring, not the model
    (problems hold more members since fragments are joined, so a single member sits further out).
    """
    c, keys = ran
    top = c.get("/v1/problems?limit=1", headers=auth(keys["reader"])).json()["items"][0]
    quote = c.get(f"/v1/problems/{top['id']}", headers=auth(keys["reader"])).json()["members"][0]["text"]
    c.app.state.services.centroids.threshold = 0.2  # problems hold more members since fragments are joined: one member sits further out
    res = c.post("/v1/classify", json={"texts": [quote]}, headers=auth(keys["ingest"])).json()["results"][0]
    assert res["problem"] is not None and res["problem"]["id"].startswith(res["category"] + "-")


class GatedEmbedder(HashingEmbedder):
    """Blocks in embed() until released, to hold a run open."""

    def __init__(self) -> None:
        super().__init__(dim=64)
        self.gate = threading.Event()
        self.armed = False

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.armed:
            self.gate.wait(30)
        return super().embed(texts)


def test_second_run_while_running_is_409_and_unknown_week_404(settings: Settings, store: Any,
                                                               keys: dict[str, str]) -> None:
    emb = GatedEmbedder()
    with TestClient(create_app(settings, embedder=emb, classifier=keyword_classifier(emb), store=store)) as c:
        ingest(c, keys["ingest"], demo_items(weeks=1, per_week=40))
        r = c.post("/v1/runs", json={"week": "2020-W01"}, headers=auth(keys["admin"]))
        assert r.status_code == 404 and "no feedback" in r.json()["message"]
        emb.armed = True
        assert c.post("/v1/runs", json={"week": WEEK}, headers=auth(keys["admin"])).status_code == 202
        r = c.post("/v1/runs", json={"week": WEEK}, headers=auth(keys["admin"]))
        assert r.status_code == 409 and "in progress" in r.json()["message"]
        emb.gate.set()
        assert wait_done(c, keys["admin"], WEEK)["status"] == "done"


def test_run_lease_is_claimed_before_the_202(settings: Settings, store: Any, keys: dict[str, str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Two API workers asked at once: the lease is taken before answering, so the second gets 409
    (before, the claim ran in the background thread and both answered 202)."""
    emb = HashingEmbedder()
    with TestClient(create_app(settings, embedder=emb, classifier=keyword_classifier(emb), store=store)) as c:
        ingest(c, keys["ingest"], demo_items(weeks=1, per_week=40))
        import feedback_miner.services.weekly as weekly

        release = threading.Event()
        monkeypatch.setattr(weekly, "run_week", lambda *a, **k: release.wait(30))  # a run that only waits
        assert c.post("/v1/runs", json={"week": WEEK}, headers=auth(keys["admin"])).status_code == 202
        held = store.running_run()
        assert held is not None and held.week == WEEK
        with TestClient(create_app(settings, embedder=emb, classifier=keyword_classifier(emb), store=store)) as other:
            r = other.post("/v1/runs", json={"week": WEEK}, headers=auth(keys["admin"]))
            assert r.status_code == 409 and "in progress" in r.json()["message"]
        release.set()
        store.finish_run(held.id, "failed", error="test: released")
