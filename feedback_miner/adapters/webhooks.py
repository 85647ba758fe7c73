"""Ticketing-tool webhooks: signature checks and payload mapping onto the ingest fields.

* Zendesk — trigger/webhook JSON (``{"ticket": {...}}`` or the flat ticket object) and event
  webhooks (``{"type": "zen:event-type:ticket.created", "detail": {...}}``); signed with
  base64(HMAC-SHA256(secret, timestamp + raw body)) in ``X-Zendesk-Webhook-Signature`` and
  ``X-Zendesk-Webhook-Signature-Timestamp``.
* Freshdesk — automation webhook ``{"freshdesk_webhook": {"ticket_id", "ticket_description", ...}}``.
* Jira — ``jira:issue_created`` / ``jira:issue_updated`` with ``issue.fields``.

Freshdesk and Jira carry a shared secret in ``X-Webhook-Secret``. Every check is constant-time.
The mappers return a raw row for :func:`feedback_miner.stages.ingest.parse_row`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from feedback_miner.errors import AuthError, ConfigError, InputError

__all__ = ["TOOLS", "verify_zendesk", "verify_shared_secret", "parse_json", "map_payload",
           "map_zendesk", "map_freshdesk", "map_jira", "zendesk_signature"]

TOOLS: tuple[str, ...] = ("zendesk", "freshdesk", "jira")

_STATUS = {"new": "new", "open": "open", "pending": "pending", "hold": "hold", "on-hold": "on-hold",
           "on hold": "on-hold", "waiting on customer": "pending", "waiting on third party": "hold",
           "solved": "solved", "resolved": "resolved", "closed": "closed", "reopened": "reopened",
           "done": "resolved", "to do": "open", "in progress": "open", "backlog": "open",
           "selected for development": "open", "in review": "open"}
_DONE = {"solved", "resolved", "closed"}


def _need(secret: str | None, tool: str) -> str:
    if not secret:
        raise ConfigError(f"the {tool} webhook is not configured: set FM_{tool.upper()}_SECRET on the server")
    return secret


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, timestamp + body)) — what Zendesk sends."""
    mac = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def verify_zendesk(secret: str | None, signature: str | None, timestamp: str | None, body: bytes) -> None:
    """Raise :class:`AuthError` unless the Zendesk signature matches; ConfigError if no secret."""
    key = _need(secret, "zendesk")
    if not signature or not timestamp:
        raise AuthError("missing X-Zendesk-Webhook-Signature or X-Zendesk-Webhook-Signature-Timestamp header")
    if not hmac.compare_digest(zendesk_signature(key, timestamp, body).encode(), signature.strip().encode()):
        raise AuthError("the Zendesk webhook signature does not match this body and timestamp")


def verify_shared_secret(secret: str | None, given: str | None, tool: str) -> None:
    """Raise :class:`AuthError` unless ``given`` equals the configured secret (constant time)."""
    key = _need(secret, tool)
    if not given:
        raise AuthError(f"missing X-Webhook-Secret header for the {tool} webhook")
    if not hmac.compare_digest(key.encode(), given.encode("utf-8", "surrogatepass")):
        raise AuthError(f"the {tool} webhook secret does not match")


def parse_json(body: bytes) -> dict[str, Any]:
    """The payload as a JSON object, or :class:`InputError`."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"body: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise InputError("body: expected a JSON object")
    return data


def _status(v: object) -> str | None:
    if v is None or v == "":
        return None
    name = str(v.get("name") if isinstance(v, Mapping) else v).strip().lower()
    return _STATUS.get(name, "open")


def _time(v: object) -> str | None:
    """Normalise the time formats these tools send to ISO 8601 (or None)."""
    if v in (None, ""):
        return None
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return datetime.fromtimestamp(v / 1000 if v > 1e11 else v, tz=timezone.utc).isoformat()
    s = str(v).strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z", "%a, %d %b %Y at %I:%M %p", "%B %d, %Y at %H:%M",
                "%d/%m/%Y %H:%M"):
        try:
            dt = datetime.strptime(s.replace("Z", "+0000") if "%z" in fmt else s, fmt)
            return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).isoformat()
        except ValueError:
            continue
    return s  # let parse_row explain what is wrong with it


def _adf_text(node: object) -> str:
    """Plain text of a Jira description, which is a string (v2) or an ADF document (v3)."""
    if isinstance(node, str):
        return node
    if isinstance(node, Mapping):
        own = str(node.get("text", "")) if node.get("type") == "text" else ""
        kids = " ".join(_adf_text(k) for k in node.get("content", []) or [])
        return (own + " " + kids).strip()
    if isinstance(node, list):
        return " ".join(_adf_text(k) for k in node)
    return ""


def _text(subject: object, body: object) -> str:
    s, b = str(subject or "").strip(), str(body or "").strip()
    if s and b and s.lower() not in b.lower():
        return f"{s}. {b}"
    return b or s


def _row(source: str, ext: object, text: str, status: str | None, created: object, updated: object,
         customer: object, channel: str) -> dict[str, object]:
    if ext in (None, ""):
        raise InputError(f"{source} payload: no ticket/issue id")
    return {"source": source, "external_id": str(ext), "text": text, "ticket_status": status,
            "created_at": _time(created) or datetime.now(timezone.utc).isoformat(), "opened_at": _time(created),
            "resolved_at": (_time(updated) or datetime.now(timezone.utc).isoformat()) if status in _DONE else None,
            "customer_id": None if customer in (None, "") else str(customer), "channel": channel}


def map_zendesk(p: Mapping[str, Any]) -> dict[str, object]:
    """A Zendesk event webhook or trigger/webhook payload → raw ingest row."""
    if str(p.get("type", "")).startswith("zen:event-type:"):
        d = p.get("detail") or {}
        if not isinstance(d, Mapping):
            raise InputError("zendesk payload: 'detail' must be an object")
        return _row("zendesk", d.get("id"), _text(d.get("subject"), d.get("description")), _status(d.get("status")),
                    d.get("created_at"), d.get("updated_at"), d.get("requester_id"), "ticket")
    t = p.get("ticket", p)
    if not isinstance(t, Mapping):
        raise InputError("zendesk payload: 'ticket' must be an object")
    req = t.get("requester")
    cust = req.get("id") if isinstance(req, Mapping) else (req or t.get("requester_id"))
    return _row("zendesk", t.get("id"), _text(t.get("subject") or t.get("title"), t.get("description")),
                _status(t.get("status")), t.get("created_at"), t.get("updated_at"), cust, "ticket")


def map_freshdesk(p: Mapping[str, Any]) -> dict[str, object]:
    """A Freshdesk automation webhook payload → raw ingest row."""
    d = p.get("freshdesk_webhook", p)
    if not isinstance(d, Mapping):
        raise InputError("freshdesk payload: 'freshdesk_webhook' must be an object")
    return _row("freshdesk", d.get("ticket_id"), _text(d.get("ticket_subject"), d.get("ticket_description")),
                _status(d.get("ticket_status")), d.get("ticket_created_at") or d.get("ticket_created_on"),
                d.get("ticket_updated_at") or d.get("ticket_resolved_at"),
                d.get("ticket_contact_id") or d.get("ticket_requester_id"), "ticket")


def map_jira(p: Mapping[str, Any]) -> dict[str, object]:
    """A Jira ``jira:issue_created`` / ``jira:issue_updated`` webhook → raw ingest row."""
    event = p.get("webhookEvent")
    if event not in ("jira:issue_created", "jira:issue_updated"):
        raise InputError(f"jira payload: webhookEvent {event!r} is not jira:issue_created or jira:issue_updated")
    issue = p.get("issue")
    if not isinstance(issue, Mapping) or not isinstance(issue.get("fields", {}), Mapping):
        raise InputError("jira payload: 'issue' with 'fields' is required")
    f = issue.get("fields") or {}
    status = _status(f.get("status"))
    if f.get("resolutiondate") and status not in _DONE:
        status = "resolved"
    rep = f.get("reporter")
    row = _row("jira", issue.get("key") or issue.get("id"), _text(f.get("summary"), _adf_text(f.get("description"))),
               status, f.get("created"), f.get("resolutiondate") or f.get("updated"),
               rep.get("accountId") if isinstance(rep, Mapping) else None, "issue")
    return row


def map_payload(tool: str, payload: Mapping[str, Any]) -> dict[str, object]:
    """Dispatch on the tool name."""
    return {"zendesk": map_zendesk, "freshdesk": map_freshdesk, "jira": map_jira}[tool](payload)
