"""GET /v1/problems/{id}/followup: role lead, the response model, merges followed, CSV, 404."""

from __future__ import annotations

from fastapi.testclient import TestClient

from feedback_miner.adapters.store import Store
from tests.api.conftest import auth
from tests.integration.test_followup import W1, seed


def test_lead_gets_the_followup_list(client: TestClient, store: Store, keys: dict[str, str]) -> None:
    seed(store)
    r = client.get("/v1/problems/payment-002/followup", headers=auth(keys["lead"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["problem_id"], body["requested_id"], body["merged_ids"], body["fixed_week"]) == (
        "payment-001", "payment-002", ["payment-002"], W1)
    assert body["customers"] == len(body["reporters"]) == 7 and body["reports"] == 9
    c1 = next(x for x in body["reporters"] if x["customer_id"] == "C1")
    assert c1["reports"] == 3 and c1["tickets"] == ["zendesk:t1", "zendesk:t2", "zendesk:t7"]
    assert c1["first_reported_at"].startswith("2026-11-02T09:00:00")
    assert "@" not in r.text
    csv = client.get("/v1/problems/payment-001/followup?format=csv", headers=auth(keys["admin"]))
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("customer_id,source,external_id") and len(csv.text.splitlines()) == 8


def test_roles_and_unknown_ids(client: TestClient, store: Store, keys: dict[str, str]) -> None:
    seed(store)
    assert client.get("/v1/problems/payment-001/followup").status_code == 401
    assert client.get("/v1/problems/payment-001/followup", headers=auth(keys["reader"])).status_code == 403
    r = client.get("/v1/problems/nope-404/followup", headers=auth(keys["lead"]))
    assert r.status_code == 404 and "nope-404" in r.json()["message"]
    schema = client.get("/openapi.json").json()
    op = schema["paths"]["/v1/problems/{problem_id}/followup"]["get"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/FollowupOut")
