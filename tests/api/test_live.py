"""The real server over real HTTP: uvicorn on 127.0.0.1, real model, SQLite file (marked slow)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from feedback_miner.adapters.keys import ROLES, create_key
from feedback_miner.adapters.store import open_store
from feedback_miner.adapters.webhooks import zendesk_signature
from tests.api.conftest import SECRETS
from tests.api.live import live_server
from tests.api.test_auth import ENDPOINTS
from tests.api.test_reports import WEEK, demo_items
from tests.api.test_webhooks import JIRA, ZENDESK_EVENT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    d = tmp_path_factory.mktemp("live")
    url = f"sqlite:///{d / 'live.db'}"
    st = open_store(url)
    keys = {r: create_key(st, role=r, name=f"live {r}")[0] for r in ROLES}
    env = {f"FM_{k.upper()}": v for k, v in SECRETS.items()}
    with live_server(url, env=env, log=d / "server.log") as base:
        yield base, keys


def h(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def test_ingest_run_digest_round_trip(server: tuple[str, dict[str, str]]) -> None:
    base, keys = server
    items = demo_items(weeks=2, per_week=160)
    with httpx.Client(base_url=base, timeout=60) as c:
        for i in range(0, len(items), 100):
            r = c.post("/v1/feedback", json={"items": items[i:i + 100]}, headers=h(keys["ingest"]))
            assert r.status_code == 200 and r.json()["counts"]["rejected"] == 0, r.text
        again = c.post("/v1/feedback", json={"items": items[:100]}, headers=h(keys["ingest"])).json()
        assert again["counts"]["duplicate"] == 100
        for week in ("2026-W45", WEEK):
            r = c.post("/v1/runs", json={"week": week}, headers=h(keys["admin"]))
            assert r.status_code == 202, r.text
            assert c.post("/v1/runs", json={"week": week}, headers=h(keys["admin"])).status_code == 409
            end = time.monotonic() + 300
            while time.monotonic() < end:
                runs = [x for x in c.get("/v1/runs", headers=h(keys["admin"])).json() if x["week"] == week]
                if runs and runs[0]["status"] != "running":
                    break
                time.sleep(0.5)
            assert runs[0]["status"] == "done", runs[0]
        d = c.get(f"/v1/digests/{WEEK}", headers=h(keys["reader"])).json()
        assert d["period"] == WEEK and d["counts"]["problems"] >= 3
        md = c.get(f"/v1/digests/{WEEK}", params={"format": "md"}, headers=h(keys["reader"]))
        assert md.status_code == 200 and WEEK in md.text
        top = c.get("/v1/problems", params={"week": WEEK, "limit": 1}, headers=h(keys["reader"])).json()["items"][0]
        detail = c.get(f"/v1/problems/{top['id']}", headers=h(keys["reader"])).json()
        texts = [m["text"] for m in detail["members"]]
        results = c.post("/v1/classify", json={"texts": texts}, headers=h(keys["ingest"])).json()["results"]
        assert len(results) == len(texts)
        # Most members of the week's top problem are recognised as a known problem, mostly that one.
        matched = [r["problem"] for r in results if r["problem"] is not None]
        assert len(matched) >= len(texts) // 2 and all(p["similarity"] >= 0.6 for p in matched)
        assert sum(p["id"] == top["id"] for p in matched) >= len(matched) // 2


def test_webhooks_over_http(server: tuple[str, dict[str, str]]) -> None:
    base, keys = server
    body = json.dumps(ZENDESK_EVENT).encode()
    with httpx.Client(base_url=base, timeout=30) as c:
        def zd(ts: str, secret: str = SECRETS["zendesk_secret"]) -> httpx.Response:
            return c.post("/v1/webhooks/zendesk", content=body, headers={
                **h(keys["ingest"]), "Content-Type": "application/json",
                "X-Zendesk-Webhook-Signature": zendesk_signature(secret, ts, body),
                "X-Zendesk-Webhook-Signature-Timestamp": ts})
        now = datetime.now(UTC)
        assert zd(f"{now:%Y-%m-%dT%H:%M:%SZ}").json()["status"] == "stored"
        assert zd(f"{now + timedelta(seconds=5):%Y-%m-%dT%H:%M:%SZ}").json()["status"] == "duplicate"
        assert zd(f"{now:%Y-%m-%dT%H:%M:%SZ}", secret="nope").status_code == 401
        assert zd("2001-01-01T00:00:00Z").status_code == 401  # signed, but far outside the tolerance
        jh = {**h(keys["ingest"]), "X-Webhook-Secret": SECRETS["jira_secret"]}
        assert c.post("/v1/webhooks/jira", json=JIRA, headers=jh).json()["status"] == "stored"
        assert c.post("/v1/webhooks/jira", json=JIRA, headers={**jh, "X-Webhook-Secret": "x"}).status_code == 401


@pytest.mark.parametrize("role", ROLES)
def test_auth_matrix_over_http(server: tuple[str, dict[str, str]], role: str) -> None:
    base, keys = server
    with httpx.Client(base_url=base, timeout=30) as c:
        for method, path, body, allowed in ENDPOINTS:
            if path == "/v1/runs" and method == "POST":
                body = {"week": "2019-W01"}  # a week without data: 404 past auth, starts nothing
            r = c.request(method, path, json=body, headers=h(keys[role]))
            if role in allowed or role == "admin":
                assert r.status_code != 403, (path, r.text)
            else:
                assert r.status_code == 403, (path, r.text)
            assert c.request(method, path, json=body).status_code == 401


def test_concurrent_writes_lose_nothing(server: tuple[str, dict[str, str]]) -> None:
    base, keys = server

    def post(n: int) -> list[str]:
        items = [{"text": f"Concurrent report {n}-{k}: checkout button does nothing", "source": "load",
                  "external_id": f"c{n}-{k}", "created_at": "2026-11-12T10:00:00Z"} for k in range(25)]
        with httpx.Client(base_url=base, timeout=60) as c:
            r = c.post("/v1/feedback", json={"items": items}, headers=h(keys["ingest"]))
            return [x["status"] for x in r.json()["results"]]

    with ThreadPoolExecutor(8) as ex:
        statuses = [s for batch in ex.map(post, range(16)) for s in batch]
    assert statuses.count("stored") == 16 * 25


def test_errors_over_http(server: tuple[str, dict[str, str]]) -> None:
    base, keys = server
    with httpx.Client(base_url=base, timeout=30) as c:
        r = c.get("/nowhere")
        assert r.status_code == 404 and r.json()["error"] == "not_found"
        r = c.post("/v1/classify", content=b"x" * 2_100_000, headers=h(keys["ingest"]))
        assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
        assert "fm_http_requests_total" in c.get("/metrics").text
