"""Revocation takes effect at once, failed key checks and logins are rate limited (429 + Retry-After),
security headers on every answer, GET /v1/runs is admin-only like the README says."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from feedback_miner.adapters import tables as t
from feedback_miner.adapters.keys import KeyCache, create_key, revoke_key
from feedback_miner.adapters.ratelimit import MAX_FAILURES, WINDOW_S, FailureLimiter
from feedback_miner.adapters.store import Store
from feedback_miner.errors import AuthError, RateLimited


def test_revoked_key_stops_at_once_in_the_revoking_process(client: TestClient, keys: dict[str, str],
                                                           store: Store) -> None:
    h = {"X-API-Key": keys["reader"]}
    assert client.get("/v1/problems", headers=h).status_code == 200  # now in the verified-key cache
    revoke_key(store, keys["reader"].split("_")[1])
    r = client.get("/v1/problems", headers=h)
    assert r.status_code == 401 and "revoked" in r.json()["message"]


def test_revocation_by_another_process_is_seen_within_the_ttl(store: Store) -> None:
    key, rec = create_key(store, role="reader", name="elsewhere")
    now = [1000.0]
    cache = KeyCache(store, ttl_s=5.0, clock=lambda: now[0])
    assert cache.verify(key).id == rec.id
    with store.tx() as c:  # what `feedback-miner keys revoke` in another process does: only the row changes
        c.execute(update(t.api_keys).where(t.api_keys.c.id == rec.id).values(revoked=True))
    now[0] += 4.9
    assert cache.verify(key).id == rec.id  # still inside the stated bound
    now[0] += 0.2
    with pytest.raises(AuthError, match="revoked"):
        cache.verify(key)


def test_failed_key_checks_are_limited_per_client(client: TestClient, keys: dict[str, str]) -> None:
    for n in range(MAX_FAILURES):
        assert client.get("/v1/problems", headers={"X-API-Key": f"fm_00000000_guess{n}"}).status_code == 401
    r = client.get("/v1/problems", headers={"X-API-Key": keys["reader"]})  # even the right key, for now
    assert r.status_code == 429 and r.json()["error"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= WINDOW_S + 1
    assert "try again in" in r.json()["message"]
    assert client.get("/v1/problems").status_code == 401  # a missing key is not a guess: still 401


def test_limit_holds_across_processes_and_ends_with_the_window(store: Store) -> None:
    now = [5000.0]
    a = FailureLimiter(store, max_failures=3, window_s=60, clock=lambda: now[0])
    b = FailureLimiter(store, max_failures=3, window_s=60, clock=lambda: now[0])  # another worker, same store
    for _ in range(2):
        a.failed("203.0.113.7")
    b.failed("203.0.113.7")
    with pytest.raises(RateLimited) as exc:
        a.check("203.0.113.7")
    assert exc.value.retry_after_s == 61
    b.check("198.51.100.1")  # other clients are not affected
    now[0] += 61
    a.check("203.0.113.7")
    b.check("203.0.113.7")


def _login(c: TestClient, key: str) -> Any:
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)  # type: ignore[union-attr]
    return c.post("/login", data={"api_key": key, "csrf": token, "next": "/"}, follow_redirects=False)


def test_login_is_rate_limited(client: TestClient, keys: dict[str, str]) -> None:
    for n in range(MAX_FAILURES):
        assert _login(client, f"fm_00000000_wrong{n}").status_code == 401
    r = _login(client, keys["reader"])  # the right key after a burst of wrong ones: refused for now
    assert r.status_code == 429 and "Too many attempts" in r.text
    assert int(r.headers["Retry-After"]) >= 1
    assert "session" not in r.headers.get("set-cookie", "")


def test_digest_html_and_every_answer_carry_security_headers(client: TestClient, keys: dict[str, str]) -> None:
    from tests.api.test_reports import WEEK, demo_items, ingest

    admin = {"X-API-Key": keys["admin"]}
    ingest(client, keys["ingest"], demo_items(weeks=1, per_week=60))
    assert client.post("/v1/runs", json={"week": WEEK}, headers=admin).status_code == 202
    client.app.state.services.wait_for_run(60)  # type: ignore[attr-defined]
    r = client.get(f"/v1/digests/{WEEK}", params={"format": "html"}, headers=admin)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    for path in ("/v1/problems", "/healthz", "/login", "/v1/nope"):
        assert client.get(path, headers=admin).headers["X-Content-Type-Options"] == "nosniff", path
    assert "script-src 'self'" in client.get("/login").headers["Content-Security-Policy"]


def test_runs_list_is_admin_only(client: TestClient, keys: dict[str, str]) -> None:
    assert client.get("/v1/runs", headers={"X-API-Key": keys["reader"]}).status_code == 403
    assert client.get("/v1/runs", headers={"X-API-Key": keys["admin"]}).status_code == 200


def test_a_key_whose_prefix_is_all_digits_is_revoked_by_its_prefix(store: Store) -> None:
    """Prefixes are hex: about 2% of keys have an all-digit prefix, which was read as a key id."""
    _, rec = create_key(store, role="reader", name="digits")
    with store.tx() as c:
        c.execute(update(t.api_keys).where(t.api_keys.c.id == rec.id).values(prefix="92462835"))
    assert revoke_key(store, "92462835").id == rec.id
    _, other = create_key(store, role="reader", name="by id")
    assert revoke_key(store, str(other.id)).revoked
