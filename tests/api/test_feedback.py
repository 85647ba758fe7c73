"""POST /v1/feedback and /v1/classify in-process: per-item results, idempotency, limits."""

from __future__ import annotations

from datetime import UTC

import numpy as np
from fastapi.testclient import TestClient

from feedback_miner.adapters.store import Store
from tests.api.conftest import auth

T0 = "2026-11-10T09:30:00Z"


def test_batch_reports_each_item_and_keeps_good_ones(client: TestClient, keys: dict[str, str]) -> None:
    items = [
        {"text": "Checkout fails when I pay by card", "external_id": "a1", "source": "survey", "created_at": T0},
        {"text": "   ", "external_id": "a2", "created_at": T0},
        {"text": "Parcel late", "external_id": "a3", "created_at": T0, "rating": 9},
        {"text": "Mail me at jane.doe@example.com please", "external_id": "a4", "created_at": "yesterday"},
        {"text": "Login broken", "external_id": "a5", "created_at": 1e20},
    ]
    r = client.post("/v1/feedback", json={"items": items}, headers=auth(keys["ingest"]))
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert [x["status"] for x in res] == ["stored", "rejected", "rejected", "rejected", "rejected"]
    assert res[0]["id"] and res[0]["error"] is None
    assert res[1]["error"]["field"] == "text"
    assert res[2]["error"]["field"] == "rating" and "range" in res[2]["error"]["message"]
    assert res[3]["error"]["field"] == "created_at"
    assert r.json()["counts"] == {"stored": 1, "duplicate": 0, "updated": 0, "rejected": 4}


def test_resending_adds_nothing_and_an_update_updates(client: TestClient, keys: dict[str, str], store: Store) -> None:
    item = {"text": "Charged twice for one order", "external_id": "t-9", "source": "helpdesk", "created_at": T0,
            "ticket_status": "open"}
    first = client.post("/v1/feedback", json={"items": [item]}, headers=auth(keys["ingest"])).json()["results"][0]
    again = client.post("/v1/feedback", json={"items": [item]}, headers=auth(keys["ingest"])).json()["results"][0]
    assert first["status"] == "stored" and again == {**first, "status": "duplicate"}
    solved = {**item, "ticket_status": "solved", "resolved_at": "2026-11-11T10:00:00Z"}
    upd = client.post("/v1/feedback", json={"items": [solved]}, headers=auth(keys["ingest"])).json()["results"][0]
    assert upd["status"] == "updated" and upd["id"] == first["id"]
    assert store.count_feedback() == 1
    [stored] = store.feedback_in_weeks(["2026-W46"])
    assert stored.ticket_status == "solved"


def test_pii_is_redacted_before_storing(client: TestClient, keys: dict[str, str], store: Store) -> None:
    item = {"text": "Refund to jane.doe@example.com please", "external_id": "p1", "created_at": T0}
    client.post("/v1/feedback", json={"items": [item]}, headers=auth(keys["ingest"]))
    [stored] = store.feedback_in_weeks(["2026-W46"])
    assert "example.com" not in stored.text and "[EMAIL]" in stored.text


def test_batch_over_the_limit_is_422_naming_items(client: TestClient, keys: dict[str, str]) -> None:
    items = [{"text": f"t {n}", "created_at": T0} for n in range(51)]
    r = client.post("/v1/feedback", json={"items": items}, headers=auth(keys["ingest"]))
    assert r.status_code == 422 and "items" in r.json()["message"]


def test_unknown_field_is_422_and_names_it(client: TestClient, keys: dict[str, str]) -> None:
    r = client.post("/v1/feedback", json={"items": [{"text": "x", "colour": "red"}]}, headers=auth(keys["ingest"]))
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid_input" and body["fields"][0]["field"] == "body.items.0.colour"


def test_missing_text_names_the_field(client: TestClient, keys: dict[str, str]) -> None:
    r = client.post("/v1/feedback", json={"items": [{"external_id": "x"}]}, headers=auth(keys["ingest"]))
    assert r.status_code == 422 and "body.items.0.text" in r.json()["message"]


def test_oversized_body_is_413_json(client: TestClient, keys: dict[str, str]) -> None:
    big = {"items": [{"text": "x" * 19_000, "created_at": T0} for _ in range(5)]}
    r = client.post("/v1/feedback", json=big, headers=auth(keys["ingest"]))
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"


def test_unknown_route_is_json_404(client: TestClient) -> None:
    r = client.get("/v1/nope")
    assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_malformed_json_is_422_not_500(client: TestClient, keys: dict[str, str]) -> None:
    r = client.post("/v1/feedback", content=b"{not json", headers={**auth(keys["ingest"]),
                                                                  "Content-Type": "application/json"})
    assert r.status_code == 422 and "Traceback" not in r.text


def test_classify_same_order_and_problem_match(client: TestClient, keys: dict[str, str], store: Store,
                                               embedder) -> None:  # type: ignore[no-untyped-def]
    from datetime import datetime

    from feedback_miner.adapters import tables as t

    vec = embedder.embed(["charged twice card payment refund"])[0].astype(np.float32)
    with store.tx() as c:
        c.execute(t.problems.insert().values(id="payment-001", category="payment", title="Charged twice",
                                             title_locked=False, keywords="[]", centroid=vec.tobytes(),
                                             first_week="2026-W40", last_week="2026-W46",
                                             created_at=datetime.now(UTC)))
    client.app.state.services.centroids.refresh()  # type: ignore[attr-defined]
    texts = ["I was charged twice on my card, payment refund please", "Parcel delivery late, tracking stuck"]
    r = client.post("/v1/classify", json={"texts": texts}, headers={"Authorization": f"Bearer {keys['ingest']}"})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert [x["category"] for x in res] == ["payment", "shipping"]
    assert res[0]["problem"]["id"] == "payment-001" and res[0]["problem"]["similarity"] >= 0.6
    assert res[1]["problem"] is None
    assert store.count_feedback() == 0  # classify stores nothing


def test_classify_limits(client: TestClient, keys: dict[str, str]) -> None:
    h = auth(keys["ingest"])
    assert client.post("/v1/classify", json={"texts": []}, headers=h).status_code == 422
    assert client.post("/v1/classify", json={"texts": ["x"] * 65}, headers=h).status_code == 422
    r = client.post("/v1/classify", json={"texts": ["x" * 5001]}, headers=h)
    assert r.status_code == 422 and "texts.0" in r.json()["message"]
