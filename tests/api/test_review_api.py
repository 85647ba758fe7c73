"""Review loop, model versions and problem actions over the API, in-process with the doubles.

Proves: the role matrix of the new endpoints; confirm, correct, "not an issue", bulk and the audit
trail; mark fixed and rename; retrain/rollback answer with the result and serve the new version
(the slow training itself is replaced by a stub here); validation errors name the field.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from feedback_miner.adapters.keys import ROLES, create_key
from feedback_miner.adapters.store import open_store
from feedback_miner.config import Settings
from feedback_miner.testing import HashingEmbedder
from tests.api.conftest import auth, keyword_classifier
from tests.api.test_reports import WEEK, demo_items, ingest, wait_done

# (method, path, json body, roles allowed besides admin)
ENDPOINTS: list[tuple[str, str, Any, set[str]]] = [
    ("GET", "/v1/review/queue", None, {"lead"}),
    ("POST", "/v1/review/1", {"category": "payment"}, {"lead"}),
    ("POST", "/v1/review/bulk", {"items": [{"id": 1, "category": "other"}]}, {"lead"}),
    ("GET", "/v1/review/audit", None, {"lead"}),
    ("POST", "/v1/model/retrain", {}, set()),
    ("POST", "/v1/model/rollback", {}, set()),
    ("POST", "/v1/problems/payment-001/fix", {"week": WEEK}, {"lead"}),
    ("POST", "/v1/problems/payment-001/rename", {"title": "Card payments fail"}, {"lead"}),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "body", "allowed"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS])
def test_role_matrix(client: TestClient, keys: dict[str, str], role: str, method: str, path: str, body: Any,
                     allowed: set[str]) -> None:
    r = client.request(method, path, json=body, headers=auth(keys[role]))
    if role in allowed or role == "admin":
        assert r.status_code not in (401, 403), r.text  # past auth (404/409 without data or a model dir)
    else:
        assert r.status_code == 403, r.text
        assert r.json()["error"] == "forbidden" and role in r.json()["message"]
    assert client.request(method, path, json=body).status_code == 401


@pytest.fixture(scope="module")
def loaded() -> Iterator[tuple[TestClient, dict[str, str]]]:
    """An app over two demo weeks, both run, with one key per role."""
    tmp = tempfile.mkdtemp()
    s = Settings(database_url=f"sqlite:///{tmp}/review.db")
    st = open_store(s.database_url)
    keys = {r: create_key(st, role=r, name=f"{r} key")[0] for r in ROLES}
    emb = HashingEmbedder(dim=128)
    with TestClient(create_app(s, embedder=emb, classifier=keyword_classifier(emb), store=st)) as c:
        ingest(c, keys["ingest"], demo_items(weeks=2, per_week=60))
        for w in ("2026-W45", WEEK):
            assert c.post("/v1/runs", json={"week": w}, headers=auth(keys["admin"])).status_code == 202
            assert wait_done(c, keys["admin"], w)["status"] == "done"
        yield c, keys


def _queue(c: TestClient, key: str, **params: Any) -> dict[str, Any]:
    r = c.get("/v1/review/queue", params=params, headers=auth(key))
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_queue_is_ordered_filtered_and_paged(loaded: tuple[TestClient, dict[str, str]]) -> None:
    c, keys = loaded
    q = _queue(c, keys["lead"], limit=500)
    assert q["week"] == WEEK  # default: the newest week
    items = q["items"]
    assert items and q["progress"]["total"] >= len(items)
    assert q["progress"]["left"] == q["progress"]["total"] - q["progress"]["confirmed"]
    assert [i["urgency"] for i in items] == sorted((i["urgency"] for i in items), reverse=True)
    assert all(i["week"] == WEEK and 0 <= i["confidence"] <= 1 and i["text"] for i in items)
    assert not any("@" in i["text"] and ".com" in i["text"] for i in items)  # texts come redacted
    assert any(i["problem_id"] and i["problem_title"] for i in items)
    pay = _queue(c, keys["lead"], category="payment", limit=500)["items"]
    assert pay and {i["predicted_category"] for i in pay} == {"payment"}
    src = items[0]["source"]
    assert {i["source"] for i in _queue(c, keys["lead"], source=src, limit=500)["items"]} == {src}
    page = _queue(c, keys["lead"], limit=2, offset=1)["items"]
    assert [i["id"] for i in page] == [i["id"] for i in _queue(c, keys["lead"], limit=500)["items"][1:3]]
    assert _queue(c, keys["admin"], week="2026-W45")["week"] == "2026-W45"


def test_confirm_correct_and_not_an_issue_are_audited(loaded: tuple[TestClient, dict[str, str]]) -> None:
    c, keys = loaded
    before = _queue(c, keys["lead"], limit=500)
    a, b, n = before["items"][:3]
    h = auth(keys["lead"])
    r = c.post(f"/v1/review/{a['id']}", json={"category": a["predicted_category"]}, headers=h)
    assert r.status_code == 200 and r.json()["corrected"] is False, r.text
    other = "shipping" if b["predicted_category"] != "shipping" else "payment"
    r = c.post(f"/v1/review/{b['id']}", json={"category": other, "secondary_category": "technical"}, headers=h).json()
    assert r == {"id": b["id"], "old_category": b["predicted_category"], "category": other,
                 "secondary_category": "technical", "corrected": True}
    assert c.post(f"/v1/review/{n['id']}", json={"category": "other"}, headers=h).json()["category"] == "other"
    after = _queue(c, keys["lead"], limit=500)
    assert after["progress"]["left"] == before["progress"]["left"] - 3
    assert not {a["id"], b["id"], n["id"]} & {i["id"] for i in after["items"]}
    trail = c.get("/v1/review/audit", params={"feedback_id": b["id"]}, headers=h).json()
    assert trail[0]["reviewer"] == "lead key" and trail[0]["old_category"] == b["predicted_category"]
    assert trail[0]["new_category"] == other and trail[0]["new_secondary"] == "technical"
    latest = c.get("/v1/review/audit", params={"limit": 3}, headers=h).json()
    assert [e["feedback_id"] for e in latest] == [n["id"], b["id"], a["id"]]
    r = c.post("/v1/review/99999999", json={"category": "payment"}, headers=h)
    assert r.status_code == 404 and "99999999" in r.json()["message"]


def test_bulk_confirms_each_and_reports_unknown_ids(loaded: tuple[TestClient, dict[str, str]]) -> None:
    c, keys = loaded
    items = _queue(c, keys["lead"], limit=500)["items"][:2]
    body = {"items": [{"id": items[0]["id"], "category": items[0]["predicted_category"]},
                      {"id": items[1]["id"], "category": "other"}, {"id": 88888888, "category": "payment"}]}
    r = c.post("/v1/review/bulk", json=body, headers=auth(keys["admin"]))
    assert r.status_code == 200, r.text
    out = r.json()
    assert [x["status"] for x in out["results"]][2] == "not_found"
    assert out["counts"]["not_found"] == 1 and out["counts"]["confirmed"] + out["counts"]["corrected"] == 2
    trail = c.get("/v1/review/audit", params={"feedback_id": items[1]["id"]}, headers=auth(keys["lead"])).json()
    assert trail[0]["reviewer"] == "admin key" and trail[0]["new_category"] == "other"


def test_fix_and_rename_a_problem(loaded: tuple[TestClient, dict[str, str]]) -> None:
    c, keys = loaded
    top = c.get("/v1/problems", params={"week": WEEK, "limit": 1}, headers=auth(keys["reader"])).json()["items"]
    pid = top[0]["id"]
    r = c.post(f"/v1/problems/{pid}/fix", json={"week": WEEK, "link": "https://tracker.example/FIX-1"},
               headers=auth(keys["lead"]))
    assert r.status_code == 200, r.text
    assert r.json() == {"id": pid, "fixed_week": WEEK, "fix_link": "https://tracker.example/FIX-1",
                        "fixed_by": "lead key", "title": None}
    r = c.post(f"/v1/problems/{pid}/rename", json={"title": "  Checkout   keeps failing "}, headers=auth(keys["lead"]))
    assert r.status_code == 200 and r.json()["title"] == "Checkout keeps failing"
    detail = c.get(f"/v1/problems/{pid}", headers=auth(keys["reader"])).json()
    assert detail["fixed_week"] == WEEK and detail["title"] == "Checkout keeps failing"
    r = c.post("/v1/problems/nope-404/fix", json={"week": WEEK}, headers=auth(keys["admin"]))
    assert r.status_code == 404 and "nope-404" in r.json()["message"]


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("POST", "/v1/review/1", {"category": "billing"}, "body.category"),
    ("POST", "/v1/review/1", {}, "body.category"),
    ("POST", "/v1/review/1", {"category": "payment", "secondary_category": "x"}, "body.secondary_category"),
    ("POST", "/v1/review/1", {"category": "payment", "reviewer": "me"}, "body.reviewer"),
    ("POST", "/v1/review/0", {"category": "payment"}, "path.feedback_id"),
    ("POST", "/v1/review/bulk", {"items": []}, "body.items"),
    ("POST", "/v1/review/bulk", {"items": [{"category": "payment"}]}, "body.items.0.id"),
    ("GET", "/v1/review/queue?limit=0", None, "query.limit"),
    ("GET", "/v1/review/queue?week=46", None, "query.week"),
    ("GET", "/v1/review/queue?category=billing", None, "query.category"),
    ("POST", "/v1/problems/p-1/fix", {"week": "2026-W60"}, "body.week"),
    ("POST", "/v1/problems/p-1/fix", {"week": WEEK, "link": "javascript:alert(1)"}, "body.link"),
    ("POST", "/v1/problems/p-1/rename", {"title": "ab"}, "body.title"),
    ("POST", "/v1/model/retrain", {"weight": 0}, "body.weight"),
    ("POST", "/v1/model/rollback", {"to": "../etc"}, "body.to"),
])
def test_validation_errors_name_the_field(client: TestClient, keys: dict[str, str], method: str, path: str,
                                          body: Any, field: str) -> None:
    r = client.request(method, path, json=body, headers=auth(keys["admin"]))
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_input"
    assert field in [f["field"] for f in r.json()["fields"]] and field in r.json()["message"]


def test_retrain_and_rollback_answer_with_the_result(client: TestClient, keys: dict[str, str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import api.services
    import feedback_miner.adapters.artefacts

    svc = client.app.state.services  # type: ignore[attr-defined]
    h = auth(keys["admin"])
    r = client.post("/v1/model/retrain", json={}, headers=h)
    assert r.status_code == 409 and "injected" in r.json()["message"]  # never rewrites models/ under a test app
    calls: list[Any] = []
    result = {"version": "v9", "promoted": True, "basis": "seed cross-validation", "current_version": "v8",
              "current_macro_f1": 0.9, "candidate_macro_f1": 0.91, "n_train_confirmations": 3, "n_validation": 1}
    monkeypatch.setattr(svc, "classifier_version", "v8")

    def fake_retrain(models_dir, embedder, confirmed, *, current_version, weight):  # type: ignore[no-untyped-def]
        calls.append((models_dir, embedder, current_version, weight))
        return result

    monkeypatch.setattr(api.services, "retrain", fake_retrain)
    monkeypatch.setattr(feedback_miner.adapters.artefacts, "load_classifier", lambda root, v: (svc.clf, {"version": "v9"}))
    r = client.post("/v1/model/retrain", json={"weight": 3}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {**result, "serving": "v9"}
    # this server's own models dir and embedder: no second model, no rebuilt settings
    assert calls == [(svc.settings.models_dir, svc.embedder, "v8", 3.0)]
    assert svc.classifier_version == "v9"
    assert client.post("/v1/model/retrain", headers=h).status_code == 200
    assert calls[-1][3] == 5.0  # no weight given: the measured default
    monkeypatch.setattr(api.services, "roll_back", lambda models_dir, to: calls.append(("rb", models_dir, to)) or "v8")
    monkeypatch.setattr(feedback_miner.adapters.artefacts, "load_classifier", lambda root, v: (svc.clf, {"version": "v8"}))
    r = client.post("/v1/model/rollback", headers=h)
    assert r.status_code == 200 and r.json() == {"version": "v8", "serving": "v8"}
    assert calls[-1] == ("rb", svc.settings.models_dir, None)
    lock = client.app.state.model_lock  # type: ignore[attr-defined]
    with lock:  # a retrain already running → 409, not a second one
        r = client.post("/v1/model/retrain", headers=h)
    assert r.status_code == 409 and "already running" in r.json()["message"]
