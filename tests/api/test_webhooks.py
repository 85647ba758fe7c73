"""Webhooks with recorded-shape payloads: good/bad/missing signatures, redelivery, updates, no secret."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from feedback_miner.adapters.store import Store
from feedback_miner.adapters.webhooks import zendesk_signature
from feedback_miner.config import Settings
from tests.api.conftest import SECRETS, keyword_classifier

ZENDESK_EVENT: dict[str, Any] = {
    "account_id": 22129848, "detail": {
        "actor_id": "8447388090494", "assignee_id": None, "brand_id": "8447346621310",
        "created_at": "2026-11-10T09:31:11Z", "custom_status": "8447388093182",
        "description": "Checkout fails with a payment error every time I use my card",
        "external_id": None, "form_id": "8646151517822", "group_id": "8447320466430", "id": "5158",
        "is_public": True, "organization_id": None, "priority": "LOW", "requester_id": "8447388090494",
        "status": "OPEN", "subject": "Cannot pay", "submitter_id": "8447388090494", "tags": ["checkout"],
        "type": "TASK", "updated_at": "2026-11-10T09:31:11Z", "via": {"channel": "web_service"}},
    "event": {}, "id": "cbe4028c-7239-495d-b020-f22348516046", "subject": "zen:ticket:5158",
    "time": "2026-11-10T09:31:12.000Z", "type": "zen:event-type:ticket.created",
    "zendesk_event_version": "2022-11-06",
}
ZENDESK_TRIGGER: dict[str, Any] = {"ticket": {
    "id": 35436, "title": "Order never arrived", "description": "My parcel is two weeks late, tracking stuck",
    "status": "Open", "created_at": "2026-11-11T08:00:00Z", "updated_at": "2026-11-11T08:00:00Z",
    "requester": {"id": 20978392, "name": "Jane", "email": "jane@example.com"}}}
FRESHDESK: dict[str, Any] = {"freshdesk_webhook": {
    "ticket_id": 812, "ticket_subject": "Password reset mail never comes",
    "ticket_description": "<div>I cannot log in, the reset mail never arrives</div>", "ticket_status": "Open",
    "ticket_priority": "Medium", "ticket_source": "Email", "ticket_created_at": "2026-11-12T10:00:00Z",
    "ticket_requester_email": "bob@example.com", "ticket_contact_id": 5501}}
JIRA: dict[str, Any] = {
    "timestamp": 1762765200000, "webhookEvent": "jira:issue_created", "issue_event_type_name": "issue_created",
    "user": {"accountId": "5b10a2844c20165700ede21g"},
    "issue": {"id": "10002", "self": "https://x.atlassian.net/rest/api/2/10002", "key": "SUP-17", "fields": {
        "summary": "App crashes on login", "issuetype": {"name": "Bug"},
        "description": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
            {"type": "text", "text": "The app crashes right after I enter my password"}]}]},
        "status": {"name": "To Do", "statusCategory": {"key": "new"}}, "created": "2026-11-12T10:00:00.000+0000",
        "updated": "2026-11-12T10:00:00.000+0000", "resolutiondate": None,
        "reporter": {"accountId": "5b10a2844c20165700ede21g"}}}}


def _now_iso(offset_s: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _zd(client: TestClient, key: str, payload: dict[str, Any] | bytes, *, secret: str = SECRETS["zendesk_secret"],
        ts: str | None = None, sign: bool = True) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    ts = ts or _now_iso()
    h = {"X-API-Key": key, "Content-Type": "application/json"}
    if sign:
        h |= {"X-Zendesk-Webhook-Signature": zendesk_signature(secret, ts, body),
              "X-Zendesk-Webhook-Signature-Timestamp": ts}
    return client.post("/v1/webhooks/zendesk", content=body, headers=h)


def _shared(client: TestClient, key: str, tool: str, payload: dict[str, Any], secret: str | None) -> Any:
    h = {"X-API-Key": key} | ({"X-Webhook-Secret": secret} if secret is not None else {})
    return client.post(f"/v1/webhooks/{tool}", json=payload, headers=h)


@pytest.mark.parametrize("payload", [ZENDESK_EVENT, ZENDESK_TRIGGER], ids=["event", "trigger"])
def test_zendesk_signed_stored_once_then_updated(client: TestClient, keys: dict[str, str], store: Store,
                                                 payload: dict[str, Any]) -> None:
    r = _zd(client, keys["ingest"], payload)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "stored" and r.json()["source"] == "zendesk"
    again = _zd(client, keys["ingest"], payload, ts=_now_iso(-30))  # redelivery, re-signed
    assert again.json()["status"] == "duplicate" and again.json()["id"] == r.json()["id"]
    solved = copy.deepcopy(payload)
    t = solved["detail"] if "detail" in solved else solved["ticket"]
    t["status"], t["updated_at"] = "SOLVED", "2026-11-12T12:00:00Z"
    upd = _zd(client, keys["ingest"], solved)
    assert upd.json()["status"] == "updated"
    assert store.count_feedback() == 1
    [item] = store.feedback_between(*__import__("feedback_miner.domain.weeks", fromlist=["x"]).week_bounds("2026-W46"))
    assert item.ticket_status == "solved" and item.resolved_at is not None
    assert "example.com" not in item.text


def test_zendesk_bad_or_missing_signature_is_refused(client: TestClient, keys: dict[str, str], store: Store) -> None:
    assert _zd(client, keys["ingest"], ZENDESK_EVENT, secret="wrong").status_code == 401
    r = _zd(client, keys["ingest"], ZENDESK_EVENT, sign=False)
    assert r.status_code == 401 and "X-Zendesk-Webhook-Signature" in r.json()["message"]
    body = json.dumps(ZENDESK_EVENT).encode()
    sig = zendesk_signature(SECRETS["zendesk_secret"], "t1", body)
    tampered = client.post("/v1/webhooks/zendesk", content=body.replace(b"OPEN", b"SOLVED"), headers={
        "X-API-Key": keys["ingest"], "X-Zendesk-Webhook-Signature": sig, "X-Zendesk-Webhook-Signature-Timestamp": "t1"})
    assert tampered.status_code == 401
    assert store.count_feedback() == 0


@pytest.mark.parametrize(("tool", "payload"), [("freshdesk", FRESHDESK), ("jira", JIRA)])
def test_shared_secret_tools(client: TestClient, keys: dict[str, str], store: Store, tool: str,
                             payload: dict[str, Any]) -> None:
    secret = SECRETS[f"{tool}_secret"]
    assert _shared(client, keys["ingest"], tool, payload, None).status_code == 401
    assert _shared(client, keys["ingest"], tool, payload, "wrong").status_code == 401
    r = _shared(client, keys["ingest"], tool, payload, secret)
    assert r.status_code == 200 and r.json()["status"] == "stored", r.text
    assert _shared(client, keys["ingest"], tool, payload, secret).json()["status"] == "duplicate"
    done = copy.deepcopy(payload)
    if tool == "jira":
        done["webhookEvent"] = "jira:issue_updated"
        done["issue"]["fields"].update(status={"name": "Done"}, resolutiondate="2026-11-13T09:00:00.000+0000")
    else:
        done["freshdesk_webhook"]["ticket_status"] = "Resolved"
    assert _shared(client, keys["ingest"], tool, done, secret).json()["status"] == "updated"
    assert store.count_feedback() == 1
    [item] = store.feedback_in_weeks(["2026-W46"])
    assert item.ticket_status == "resolved" and item.resolved_at is not None
    assert item.external_id == ("SUP-17" if tool == "jira" else "812")


def test_bad_payloads_are_422(client: TestClient, keys: dict[str, str]) -> None:
    s = SECRETS["jira_secret"]
    r = _shared(client, keys["ingest"], "jira", {"webhookEvent": "jira:issue_deleted", "issue": {}}, s)
    assert r.status_code == 422 and "webhookEvent" in r.json()["message"]
    r = client.post("/v1/webhooks/jira", content=b"[1,", headers={"X-API-Key": keys["ingest"], "X-Webhook-Secret": s})
    assert r.status_code == 422 and "JSON" in r.json()["message"]
    empty = {"freshdesk_webhook": {"ticket_id": 9, "ticket_description": ""}}
    r = _shared(client, keys["ingest"], "freshdesk", empty, SECRETS["freshdesk_secret"])
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "text"


def test_unconfigured_secret_refuses_with_503(tmp_path: Any, embedder: Any) -> None:
    from feedback_miner.adapters.keys import create_key
    from feedback_miner.adapters.store import open_store

    s = Settings(database_url=f"sqlite:///{tmp_path / 'n.db'}")
    st = open_store(s.database_url)
    key, _ = create_key(st, role="ingest", name="zd")
    app = create_app(s, embedder=embedder, classifier=keyword_classifier(embedder), store=st)
    with TestClient(app) as c:
        for tool in ("zendesk", "freshdesk", "jira"):
            r = c.post(f"/v1/webhooks/{tool}", json={}, headers={"X-API-Key": key, "X-Webhook-Secret": "x"})
            assert r.status_code == 503 and f"FM_{tool.upper()}_SECRET" in r.json()["message"]
