"""The pages' sessions, CSRF and roles, in-process with the doubles (fast; no browser needed).

Proves: cookies are signed, HttpOnly, SameSite=Lax, expire and die with their key; every page
write needs the session's CSRF token; a reader gets 403 on the review page and its writes; a lead
confirms, corrects and bulk-confirms through the forms; pages send a strict CSP.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.sessions import SESSION_COOKIE, SessionSigner
from feedback_miner.adapters.keys import ROLES, create_key, revoke_key
from feedback_miner.adapters.store import open_store
from feedback_miner.config import Settings
from feedback_miner.errors import ConfigError
from feedback_miner.testing import HashingEmbedder
from tests.api.conftest import auth, keyword_classifier
from tests.api.test_reports import WEEK, demo_items, ingest, wait_done

App = tuple[TestClient, dict[str, str], Any]


@pytest.fixture(scope="module")
def app() -> Iterator[App]:
    tmp = tempfile.mkdtemp()
    s = Settings(database_url=f"sqlite:///{tmp}/pages.db")
    st = open_store(s.database_url)
    keys = {r: create_key(st, role=r, name=f"{r} person")[0] for r in ROLES}
    emb = HashingEmbedder(dim=128)
    with TestClient(create_app(s, embedder=emb, classifier=keyword_classifier(emb), store=st)) as c:
        ingest(c, keys["ingest"], demo_items(weeks=1, per_week=60))
        assert c.post("/v1/runs", json={"week": WEEK}, headers=auth(keys["admin"])).status_code == 202
        assert wait_done(c, keys["admin"], WEEK)["status"] == "done"
        yield c, keys, st


def login(c: TestClient, key: str, next_path: str = "/") -> Any:
    c.cookies.clear()
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
    return c.post("/login", data={"api_key": key, "csrf": token, "next": next_path}, follow_redirects=False)


def csrf_of(c: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', c.get(f"/digest/{WEEK}").text).group(1)  # type: ignore[union-attr]


def queue(c: TestClient, keys: dict[str, str]) -> list[dict[str, Any]]:
    return list(c.get("/v1/review/queue", params={"limit": 500}, headers=auth(keys["lead"])).json()["items"])


def test_signer_rejects_tampering_other_secrets_and_expiry() -> None:
    s = SessionSigner(b"k" * 32)
    tok = s.sign({"kid": 1, "csrf": "x", "iat": int(time.time())})
    assert s.unsign(tok) == {"kid": 1, "csrf": "x", "iat": pytest.approx(time.time(), abs=5)}
    _, mac = tok.split(".")
    forged = SessionSigner(b"k" * 32).sign({"kid": 2, "csrf": "x", "iat": int(time.time())}).split(".")[0]
    assert s.unsign(f"{forged}.{mac}") is None and s.unsign(tok + "x") is None and s.unsign("junk") is None
    assert SessionSigner(b"o" * 32).unsign(tok) is None
    assert SessionSigner(b"k" * 32, max_age_s=60).unsign(s.sign({"kid": 1, "csrf": "x", "iat": 1})) is None
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        SessionSigner(b"short")
    a, b = (SessionSigner.from_settings(Settings()) for _ in range(2))  # no secret: random, never fixed
    assert b.unsign(a.sign({"kid": 1, "csrf": "x", "iat": int(time.time())})) is None


def test_login_sets_a_safe_cookie_and_logout_clears_it(app: App) -> None:
    c, keys, _ = app
    c.cookies.clear()
    assert c.post("/login", data={"api_key": keys["lead"]}, follow_redirects=False).status_code == 403  # no token
    r = login(c, "fm_00000000_wrong")
    assert r.status_code == 401 and "not valid" in r.text and SESSION_COOKIE not in r.cookies
    r = login(c, keys["lead"], next_path="//evil.example/x")
    assert r.status_code == 303 and r.headers["location"] == "/"  # no open redirect
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and keys["lead"] not in cookie
    page = c.get(f"/digest/{WEEK}")
    assert page.status_code == 200 and "lead person" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert c.post("/logout", data={"csrf": "wrong"}, follow_redirects=False).status_code == 403
    r = c.post("/logout", data={"csrf": csrf_of(c)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert c.get("/review", follow_redirects=False).headers["location"].startswith("/login")


def test_pages_need_a_live_session(app: App) -> None:
    c, keys, store = app
    c.cookies.clear()
    r = c.get("/review?view=table", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Freview%3Fview%3Dtable"
    r = c.post("/review/confirm", data={"feedback_id": "1", "category": "other"},
               headers={"Accept": "application/json"})
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    c.cookies.set(SESSION_COOKIE, "eyJraWQiOjF9.forged")
    assert c.get("/", follow_redirects=False).status_code == 303
    key, rec = create_key(store, role="lead", name="short-lived")
    assert login(c, key).status_code == 303 and c.get("/review").status_code == 200
    revoke_key(store, str(rec.id))  # revoking the key ends its sessions at once
    assert c.get("/review", follow_redirects=False).headers["location"].startswith("/login")
    assert login(c, keys["ingest"]).status_code == 303
    assert c.get(f"/digest/{WEEK}").status_code == 403  # machines' keys read no pages


def test_reader_sees_403_and_cannot_write(app: App) -> None:
    c, keys, _ = app
    login(c, keys["reader"])
    r = c.get("/review")
    assert r.status_code == 403 and "reader" in r.text and "lead" in r.text and "review-card" not in r.text
    item = queue(c, keys)[0]
    token = csrf_of(c)
    r = c.post("/review/confirm", data={"csrf": token, "feedback_id": item["id"], "category": "other"})
    assert r.status_code == 403
    r = c.post("/review/bulk", data={"csrf": token, "ids": [item["id"]], "choice": [f"{item['id']}:other"]})
    assert r.status_code == 403
    pid = item["problem_id"] or "payment-001"
    assert c.post(f"/problems/{pid}/fix", data={"csrf": token, "week": WEEK}).status_code == 403
    assert "Mark fixed" not in c.get(f"/digest/{WEEK}").text and "/review" not in c.get(f"/digest/{WEEK}").text
    assert item["id"] in {i["id"] for i in queue(c, keys)}


def test_lead_confirms_corrects_and_bulk_confirms_through_forms(app: App) -> None:
    c, keys, _ = app
    login(c, keys["lead"], next_path="/review")
    page = c.get("/review")
    assert page.status_code == 200 and re.search(r'class="left">(\d+)<', page.text)
    left = int(re.search(r'class="left">(\d+)<', page.text).group(1))  # type: ignore[union-attr]
    token = csrf_of(c)
    a, b, x, y = queue(c, keys)[:4]
    assert c.post("/review/confirm", data={"feedback_id": a["id"], "category": "other"}).status_code == 403  # no CSRF
    r = c.post("/review/confirm", data={"csrf": token, "feedback_id": a["id"], "category": a["predicted_category"],
                                        "week": WEEK}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/review?week={WEEK}"
    r = c.post("/review/confirm", headers={"Accept": "application/json"}, data={
        "csrf": token, "feedback_id": b["id"], "category": "other", "secondary_category": "", "week": WEEK})
    assert r.json()["result"]["category"] == "other" and r.json()["progress"]["left"] == left - 2
    r = c.post("/review/bulk", follow_redirects=False, data={
        "csrf": token, "week": WEEK, "ids": [x["id"], y["id"]],
        "choice": [f"{x['id']}:shipping", f"{y['id']}:{y['predicted_category']}", f"{a['id']}:payment"]})
    assert r.status_code == 303 and "done=2" in r.headers["location"]
    trail = c.get("/v1/review/audit", params={"limit": 4}, headers=auth(keys["lead"])).json()
    assert {e["feedback_id"] for e in trail} == {a["id"], b["id"], x["id"], y["id"]}
    assert {e["reviewer"] for e in trail} == {"lead person"}
    assert c.post("/review/bulk", data={"csrf": token, "ids": [x["id"]], "choice": []}).status_code == 422
    assert f"{left - 4} of" in re.sub(r"<[^>]+>", "", c.get("/review").text)


def test_problem_page_and_mark_fixed(app: App) -> None:
    c, keys, _ = app
    login(c, keys["lead"])
    digest = c.get("/", follow_redirects=True)
    assert digest.url.path == f"/digest/{WEEK}" and "Category breakdown" in digest.text
    pid = re.search(r'href="/problems/([^"]+)"', digest.text).group(1)  # type: ignore[union-attr]
    page = c.get(f"/problems/{pid}")
    assert page.status_code == 200 and "Weekly counts" in page.text and "Mark fixed" in page.text
    token = csrf_of(c)
    bad = c.post(f"/problems/{pid}/fix", data={"csrf": token, "week": WEEK, "link": "javascript:alert(1)"})
    assert bad.status_code == 422 and "link" in bad.text
    r = c.post(f"/problems/{pid}/fix", data={"csrf": token, "week": WEEK, "link": "https://tracker.example/1"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/problems/{pid}?done=fixed"
    assert f"marked fixed in {WEEK}" in c.get(r.headers["location"]).text
    r = c.post(f"/problems/{pid}/rename", data={"csrf": token, "title": "Renamed from the page"})
    assert r.status_code == 200 and "Renamed from the page" in r.text
    assert c.get("/problems/none-999").status_code == 404 and c.get("/digest/2020-W01").status_code == 404
    export = c.get(f"/digest/{WEEK}/export", params={"format": "md"})
    assert export.status_code == 200 and WEEK in export.text and "attachment" in export.headers["content-disposition"]


def test_followup_page_for_leads_only(app: App) -> None:
    c, keys, _ = app
    login(c, keys["lead"])
    pid = re.search(r'href="/problems/([^"/]+)"', c.get(f"/digest/{WEEK}").text).group(1)  # type: ignore[union-attr]
    api = c.get(f"/v1/problems/{pid}/followup", headers=auth(keys["lead"])).json()
    problem = c.get(f"/problems/{pid}").text
    assert f'href="/problems/{pid}/followup"' in problem and f"{api['customers']} customer" in problem
    page = c.get(f"/problems/{pid}/followup")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    assert page.text.count("<td data-label=\"Customer\">") == api["customers"]  # one row per customer, as the API
    csv = c.get(f"/problems/{pid}/followup.csv")
    assert csv.status_code == 200 and "attachment" in csv.headers["content-disposition"]
    assert csv.text.splitlines()[0].startswith("customer_id,") and len(csv.text.splitlines()) == api["customers"] + 1
    assert c.get("/problems/none-999/followup").status_code == 404
    login(c, keys["reader"])
    assert "/followup" not in c.get(f"/problems/{pid}").text
    assert c.get(f"/problems/{pid}/followup").status_code == 403
    assert c.get(f"/problems/{pid}/followup.csv").status_code == 403
