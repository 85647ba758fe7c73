"""Hostile but validly signed webhook deliveries: every bad value a 4xx naming the field, replays and
late events never roll a ticket back, Zendesk timestamps are checked, Jira HMAC signatures, id limits."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from feedback_miner.adapters.store import Store
from tests.api.conftest import SECRETS
from tests.api.test_webhooks import FRESHDESK, JIRA, ZENDESK_EVENT, ZENDESK_TRIGGER, _now_iso, _shared, _zd


def _items(store: Store) -> list[Any]:
    return store.feedback_between(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def _field(r: Any) -> str:
    assert r.status_code == 422, (r.status_code, r.text)
    return str(r.json()["fields"][0]["field"])


@pytest.mark.parametrize("value", [1e20, -1e13, "NaN", 1e300, "Infinity"])
def test_zendesk_numeric_times_out_of_range_are_422_naming_the_field(client: TestClient, keys: dict[str, str],
                                                                    store: Store, value: object) -> None:
    p = copy.deepcopy(ZENDESK_EVENT)
    p["detail"]["created_at"] = "__T__"
    body = json.dumps(p).replace('"__T__"', value if isinstance(value, str) else repr(value)).encode()
    r = _zd(client, keys["ingest"], body)
    assert _field(r) == "detail.created_at"
    assert "detail.created_at" in r.json()["message"]
    assert store.count_feedback() == 0


def test_zendesk_trigger_and_freshdesk_times_name_their_field(client: TestClient, keys: dict[str, str]) -> None:
    p = copy.deepcopy(ZENDESK_TRIGGER)
    p["ticket"]["updated_at"] = 1e20
    assert _field(_zd(client, keys["ingest"], p)) == "ticket.updated_at"
    f = copy.deepcopy(FRESHDESK)
    f["freshdesk_webhook"]["ticket_created_at"] = -1e18
    r = _shared(client, keys["ingest"], "freshdesk", f, SECRETS["freshdesk_secret"])
    assert _field(r) == "freshdesk_webhook.ticket_created_at"
    f["freshdesk_webhook"]["ticket_created_at"] = "next tuesday"
    r = _shared(client, keys["ingest"], "freshdesk", f, SECRETS["freshdesk_secret"])
    assert _field(r) == "freshdesk_webhook.ticket_created_at" and "ISO 8601" in r.json()["message"]


@pytest.mark.parametrize("depth", [100, 2000])
def test_deeply_nested_jira_description_is_422(client: TestClient, keys: dict[str, str], store: Store,
                                               depth: int) -> None:
    p = copy.deepcopy(JIRA)
    p["issue"]["fields"]["description"] = "__D__"
    nested = '{"type": "doc", "content": [' * depth + '"x"' + "]}" * depth
    body = json.dumps(p).replace('"__D__"', nested)
    r = client.post("/v1/webhooks/jira", content=body.encode(),
                    headers={"X-API-Key": keys["ingest"], "X-Webhook-Secret": SECRETS["jira_secret"]})
    assert _field(r).startswith("issue.fields.description.content.0"), r.text
    assert "nested more than 64 levels" in r.json()["message"]
    assert store.count_feedback() == 0


@pytest.mark.parametrize("tool", ["zendesk", "freshdesk", "jira"])
def test_one_id_length_limit_for_webhooks(client: TestClient, keys: dict[str, str], store: Store, tool: str) -> None:
    def send(ext: str) -> Any:
        if tool == "zendesk":
            p = copy.deepcopy(ZENDESK_EVENT)
            p["detail"]["id"] = ext
            return _zd(client, keys["ingest"], p)
        if tool == "freshdesk":
            p = copy.deepcopy(FRESHDESK)
            p["freshdesk_webhook"]["ticket_id"] = ext
        else:
            p = copy.deepcopy(JIRA)
            p["issue"]["key"] = ext
        return _shared(client, keys["ingest"], tool, p, SECRETS[f"{tool}_secret"])

    r = send("x" * 5000)
    assert _field(r) in ("detail.id", "freshdesk_webhook.ticket_id", "issue.key")
    assert "128 characters" in r.json()["message"]
    assert store.count_feedback() == 0
    assert send("x" * 128).status_code == 200
    [item] = _items(store)
    assert item.external_id == "x" * 128


def test_replayed_open_event_never_reopens_a_solved_zendesk_ticket(client: TestClient, keys: dict[str, str],
                                                                   store: Store) -> None:
    opened = copy.deepcopy(ZENDESK_EVENT)
    solved = copy.deepcopy(ZENDESK_EVENT)
    solved["detail"].update(status="SOLVED", updated_at="2026-11-11T15:00:00Z")
    assert _zd(client, keys["ingest"], opened).json()["status"] == "stored"
    assert _zd(client, keys["ingest"], solved).json()["status"] == "updated"
    replay = _zd(client, keys["ingest"], opened)  # the captured OPEN delivery, re-signed within the window
    assert replay.status_code == 200 and replay.json()["status"] == "stale", replay.text
    [item] = _items(store)
    assert item.ticket_status == "solved" and item.resolved_at is not None
    reopened = copy.deepcopy(ZENDESK_EVENT)
    reopened["detail"].update(status="OPEN", updated_at="2026-11-12T08:00:00Z")  # a real, newer reopening
    assert _zd(client, keys["ingest"], reopened).json()["status"] == "updated"
    assert _items(store)[0].ticket_status == "open"


@pytest.mark.parametrize("tool", ["freshdesk", "jira"])
def test_older_event_never_overwrites_newer_state(client: TestClient, keys: dict[str, str], store: Store,
                                                  tool: str) -> None:
    secret = SECRETS[f"{tool}_secret"]
    old, new = (copy.deepcopy(FRESHDESK if tool == "freshdesk" else JIRA) for _ in range(2))
    if tool == "freshdesk":
        old["freshdesk_webhook"]["ticket_updated_at"] = "2026-11-12T10:00:00Z"
        new["freshdesk_webhook"].update(ticket_status="Resolved", ticket_updated_at="2026-11-13T10:00:00Z")
    else:
        new["webhookEvent"] = "jira:issue_updated"
        new["issue"]["fields"].update(status={"name": "Done"}, updated="2026-11-13T09:00:00.000+0000",
                                      resolutiondate="2026-11-13T09:00:00.000+0000")
    assert _shared(client, keys["ingest"], tool, new, secret).json()["status"] == "stored"  # newer arrives first
    late = _shared(client, keys["ingest"], tool, old, secret)
    assert late.status_code == 200 and late.json()["status"] == "stale"
    [item] = _items(store)
    assert item.ticket_status == "resolved"


def test_zendesk_timestamp_outside_tolerance_is_refused(client: TestClient, keys: dict[str, str],
                                                        store: Store) -> None:
    for ts in ("2001-01-01T00:00:00Z", _now_iso(-600), _now_iso(+600)):
        r = _zd(client, keys["ingest"], ZENDESK_EVENT, ts=ts)
        assert r.status_code == 401, ts
        assert "X-Zendesk-Webhook-Signature-Timestamp" in r.json()["message"] and "300 s" in r.json()["message"]
    r = _zd(client, keys["ingest"], ZENDESK_EVENT, ts="not a time")
    assert r.status_code == 401 and "ISO 8601" in r.json()["message"]
    assert store.count_feedback() == 0
    assert _zd(client, keys["ingest"], ZENDESK_EVENT, ts=_now_iso(-120)).status_code == 200


def test_jira_hmac_signature(client: TestClient, keys: dict[str, str], store: Store) -> None:
    from feedback_miner.adapters.webhook_auth import hub_signature

    secret = SECRETS["jira_secret"]
    p = copy.deepcopy(JIRA)
    p["timestamp"] = int(time.time() * 1000)
    body = json.dumps(p).encode()

    def post(b: bytes, sig: str) -> Any:
        h = {"X-API-Key": keys["ingest"], "X-Hub-Signature": sig}
        return client.post("/v1/webhooks/jira", content=b, headers=h)

    assert post(body, hub_signature("wrong", body)).status_code == 401
    assert post(body.replace(b"To Do", b"Done!"), hub_signature(secret, body)).status_code == 401
    r = post(body, hub_signature(secret, body))
    assert r.status_code == 200 and r.json()["status"] == "stored", r.text
    p["timestamp"] = int((time.time() - 7200) * 1000)  # a signed delivery captured two hours ago
    old = json.dumps(p).encode()
    r = post(old, hub_signature(secret, old))
    assert r.status_code == 401 and "timestamp" in r.json()["message"]
    r = client.post("/v1/webhooks/jira", content=body, headers={"X-API-Key": keys["ingest"]})
    assert r.status_code == 401 and "X-Hub-Signature" in r.json()["message"]
    assert store.count_feedback() == 1


def test_signed_jira_delivery_needs_no_key_but_bad_signatures_are_limited(client: TestClient, keys: dict[str, str],
                                                                          store: Store) -> None:
    """Jira system webhooks cannot send an API key header; their HMAC signature authenticates them."""
    from feedback_miner.adapters.ratelimit import MAX_FAILURES
    from feedback_miner.adapters.webhook_auth import hub_signature

    p = copy.deepcopy(JIRA)
    p["timestamp"] = int(time.time() * 1000)
    body = json.dumps(p).encode()
    signed = {"X-Hub-Signature": hub_signature(SECRETS["jira_secret"], body)}

    def post(headers: dict[str, str]) -> Any:
        return client.post("/v1/webhooks/jira", content=body, headers=headers)

    r = post(signed)
    assert r.status_code == 200 and r.json()["status"] == "stored", r.text
    r = client.post("/v1/webhooks/jira", json=JIRA, headers={"X-Webhook-Secret": SECRETS["jira_secret"]})
    assert r.status_code == 401 and "X-API-Key" in r.json()["message"]  # the static secret alone is not enough
    assert post({**signed, "X-API-Key": keys["reader"]}).status_code == 403  # a key that is sent is checked
    for _ in range(MAX_FAILURES):
        assert post({"X-Hub-Signature": "sha256=00"}).status_code == 401
    r = post(signed)
    assert r.status_code == 429 and "Retry-After" in r.headers
    assert store.count_feedback() == 1


def test_store_applies_ticket_events_in_order(store: Store) -> None:
    from feedback_miner.stages.ingest import ColumnMapping, parse_row

    def item(status: str) -> Any:
        raw = {"source": "zendesk", "external_id": "T-1", "text": "Card declined at checkout",
               "created_at": "2026-11-10T09:00:00Z", "ticket_status": status}
        return parse_row(raw, 0, ColumnMapping(), "zendesk")

    t0 = datetime(2026, 11, 10, 9, tzinfo=UTC)
    fid, out = store.upsert_feedback(item("open"), event_at=t0)
    assert out == "stored"
    assert store.upsert_feedback(item("solved"), event_at=t0 + timedelta(hours=2)) == (fid, "updated")
    assert store.upsert_feedback(item("open"), event_at=t0 + timedelta(hours=1)) == (fid, "stale")
    assert store.upsert_feedback(item("solved"), event_at=t0 + timedelta(hours=2)) == (fid, "duplicate")
    assert _items(store)[0].ticket_status == "solved"
    # without an event time (files, the batch API) nothing changes in behaviour
    assert store.upsert_feedback(item("pending"))[1] == "updated"
