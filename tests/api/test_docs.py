"""/docs and /redoc work offline (assets served by the app), and the OpenAPI schema tells a ticketing
admin how to wire each webhook: headers, secrets, signing formula, placeholders, ISO 8601 times."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import SECRETS
from tests.api.test_webhooks import _zd

_REF = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']|spec-url=["']([^"']+)["']""")


def external_refs(html: str) -> list[str]:
    """Every URL the page loads that points at another host (scheme or protocol-relative)."""
    refs = [next(g for g in m.groups() if g) for m in _REF.finditer(html)]
    return [r for r in refs if re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", r, re.I)]


@pytest.mark.parametrize(("path", "assets"), [
    ("/docs", ("swagger-ui-bundle.js", "swagger-ui.css")), ("/redoc", ("redoc.standalone.js",))])
def test_docs_pages_load_nothing_from_other_hosts(client: TestClient, path: str, assets: tuple[str, ...]) -> None:
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert external_refs(r.text) == [], external_refs(r.text)
    assert "connect-src 'self'" in r.headers["Content-Security-Policy"]  # the browser enforces it too
    refs = [next(g for g in m.groups() if g) for m in _REF.finditer(r.text)]
    for name in assets:
        [ref] = [x for x in refs if x.endswith(name)]
        a = client.get(ref)
        assert a.status_code == 200 and len(a.content) > 100_000, ref
        assert ("javascript" if name.endswith(".js") else "css") in a.headers["content-type"]
    assert client.get("/openapi.json").status_code == 200


def _op(client: TestClient, tool: str) -> dict[str, Any]:
    op: dict[str, Any] = client.get("/openapi.json").json()["paths"][f"/v1/webhooks/{tool}"]["post"]
    return op


def test_schema_documents_webhook_headers_secrets_and_signing(client: TestClient) -> None:
    headers = {t: {p["name"] for p in _op(client, t).get("parameters", []) if p["in"] == "header"}
               for t in ("zendesk", "freshdesk", "jira")}
    assert {"X-Zendesk-Webhook-Signature", "X-Zendesk-Webhook-Signature-Timestamp"} <= headers["zendesk"]
    assert "X-Webhook-Secret" in headers["freshdesk"]
    assert {"X-Hub-Signature", "X-Webhook-Secret"} <= headers["jira"]
    for tool, secret in (("zendesk", "FM_ZENDESK_SECRET"), ("freshdesk", "FM_FRESHDESK_SECRET"),
                         ("jira", "FM_JIRA_SECRET")):
        op = _op(client, tool)
        text = op["description"]
        assert secret in text and "ingest" in text and "ISO 8601" in text, tool
        assert op["security"] and "429" in op["responses"] and "422" in op["responses"]
        assert op["requestBody"]["content"]["application/json"]["examples"], tool
    assert "base64(HMAC-SHA256(secret, timestamp + raw" in _op(client, "zendesk")["description"]
    assert "sha256=<hex HMAC-SHA256(secret, raw body)>" in _op(client, "jira")["description"]
    for placeholder in ("{{ticket.id}}", "{{ticket.updated_at_with_timestamp}}", "{{ticket.requester.id}}"):
        assert placeholder in _op(client, "zendesk")["description"]
    assert "{{ticket.subject}}" in _op(client, "freshdesk")["description"]
    assert "{{issue.key}}" in _op(client, "jira")["description"]
    assert "static shared secret" in _op(client, "freshdesk")["description"]


def test_schema_examples_are_accepted(client: TestClient, keys: dict[str, str]) -> None:
    """Each documented example, sent as the tool would, is stored (the docs do not lie)."""
    for tool in ("zendesk", "freshdesk", "jira"):
        for name, ex in _op(client, tool)["requestBody"]["content"]["application/json"]["examples"].items():
            body = copy.deepcopy(ex["value"])
            if tool == "zendesk":
                r = _zd(client, keys["ingest"], json.dumps(body).encode())
            else:
                r = client.post(f"/v1/webhooks/{tool}", json=body,
                                headers={"X-API-Key": keys["ingest"], "X-Webhook-Secret": SECRETS[f"{tool}_secret"]})
            assert r.status_code == 200, (tool, name, r.text)
            assert r.json()["status"] in ("stored", "duplicate", "updated"), (tool, name, r.text)
