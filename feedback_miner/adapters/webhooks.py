"""Ticketing-tool webhook payloads mapped onto the ingest fields.

* Zendesk — trigger/webhook JSON (``{"ticket": {...}}`` or the flat ticket object) and event
  webhooks (``{"type": "zen:event-type:ticket.created", "detail": {...}}``).
* Freshdesk — automation webhook ``{"freshdesk_webhook": {"ticket_id", "ticket_description", ...}}``.
* Jira — ``jira:issue_created`` / ``jira:issue_updated`` with ``issue.fields``.

Signatures and secrets are checked in :mod:`feedback_miner.adapters.webhook_auth`. Every bad value
is a :class:`PayloadError` (an :class:`InputError`) naming the payload field (HTTP 422), never a crash:
times must be ISO 8601 (or epoch seconds/milliseconds) between 2000 and 2100, ids at most
:data:`MAX_ID_CHARS` characters, JSON at most :data:`MAX_DEPTH` levels deep.

Each mapping also returns the ticket's own last-updated time (``event_at``): the store applies an
event only if it is not older than the last one applied to that ticket, so a late or replayed
delivery never sets a solved ticket back to open.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from feedback_miner.adapters.webhook_auth import (
    hub_signature,
    verify_jira,
    verify_shared_secret,
    verify_zendesk,
    zendesk_signature,
)
from feedback_miner.errors import InputError

__all__ = [
    "MAX_DEPTH",
    "MAX_ID_CHARS",
    "TOOLS",
    "Mapped",
    "PayloadError",
    "hub_signature",
    "map_event",
    "map_freshdesk",
    "map_jira",
    "map_payload",
    "map_zendesk",
    "parse_json",
    "verify_jira",
    "verify_shared_secret",
    "verify_zendesk",
    "zendesk_signature",
]

TOOLS: tuple[str, ...] = ("zendesk", "freshdesk", "jira")
MAX_ID_CHARS = 128  # the API's limit for external_id and customer_id, for every ingest path
MAX_DEPTH = 64
_EARLIEST, _LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)

_STATUS = {"new": "new", "open": "open", "pending": "pending", "hold": "hold", "on-hold": "on-hold",
           "on hold": "on-hold", "waiting on customer": "pending", "waiting on third party": "hold",
           "solved": "solved", "resolved": "resolved", "closed": "closed", "reopened": "reopened",
           "done": "resolved", "to do": "open", "in progress": "open", "backlog": "open",
           "selected for development": "open", "in review": "open"}
_DONE = {"solved", "resolved", "closed"}
_FORMATS = ("%a, %d %b %Y at %I:%M %p", "%B %d, %Y at %H:%M", "%d/%m/%Y %H:%M")


@dataclass(frozen=True)
class Mapped:
    """A raw ingest row, and the ticket's own updated time (None when the payload has none)."""

    row: dict[str, object]
    event_at: datetime | None


class PayloadError(InputError):
    """A bad value in a webhook payload: names the field (``detail.created_at``) and what is wrong."""

    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")


def _bad(field: str, reason: str) -> PayloadError:
    return PayloadError(field, reason)


def _deep_path(text: str, limit: int) -> str:
    """Path (``a.b.0``) of the first container nested deeper than ``limit`` in JSON ``text``."""
    stack: list[list[Any]] = []  # [kind, key or index, expecting a key]
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if stack and stack[-1][0] == "{" and stack[-1][2]:
                stack[-1][1], stack[-1][2] = text[i + 1:j], False
            i = j
        elif ch in "{[":
            if len(stack) >= limit:
                break
            stack.append([ch, 0 if ch == "[" else "", ch == "{"])
        elif ch in "}]" and stack:
            stack.pop()
        elif ch == "," and stack:
            if stack[-1][0] == "[":
                stack[-1][1] += 1
            else:
                stack[-1][2] = True
        i += 1
    return ".".join(str(f[1]) for f in stack) or "body"


def _too_deep(data: object, limit: int) -> str | None:
    todo: list[tuple[object, tuple[str, ...]]] = [(data, ())]
    while todo:
        node, path = todo.pop()
        if isinstance(node, (dict, list)) and len(path) >= limit:
            return ".".join(path[:-1]) or "body"
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        todo.extend((v, (*path, str(k))) for k, v in items)
    return None


def parse_json(body: bytes) -> dict[str, Any]:
    """The payload as a JSON object nested at most :data:`MAX_DEPTH` levels, or :class:`InputError`."""
    deep: str | None
    try:
        data = json.loads(body)
    except RecursionError:
        data, deep = None, _deep_path(body.decode("utf-8", "replace"), MAX_DEPTH)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"body: not valid JSON ({exc})") from exc
    else:
        deep = _too_deep(data, MAX_DEPTH)
    if deep is not None:
        raise _bad(deep, f"JSON nested more than {MAX_DEPTH} levels deep")
    if not isinstance(data, dict):
        raise InputError("body: expected a JSON object")
    return data


def _status(v: object) -> str | None:
    if v is None or v == "":
        return None
    name = str(v.get("name") if isinstance(v, Mapping) else v).strip().lower()
    return _STATUS.get(name, "open")


def _in_range(field: str, dt: datetime) -> datetime:
    dt = (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)
    if not _EARLIEST <= dt < _LATEST:
        raise _bad(field, f"time {dt.isoformat()} is outside 2000–2100")
    return dt


def _time(field: str, v: object) -> datetime | None:
    """A payload time — ISO 8601, a tool's display format, or epoch seconds/ms — as aware UTC."""
    if v is None or v == "":
        return None
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        v = int(v.strip())
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise _bad(field, "expected an ISO 8601 time such as 2026-11-10T09:30:00Z")
    if isinstance(v, (int, float)):
        if not math.isfinite(v):
            raise _bad(field, f"{v} is not a time")
        secs = v / 1000 if abs(v) > 1e11 else v
        if not _EARLIEST.timestamp() <= secs < _LATEST.timestamp():
            raise _bad(field, f"epoch time {v:g} is outside 2000–2100 (seconds or milliseconds)")
        return datetime.fromtimestamp(secs, tz=UTC)
    s = v.strip()
    try:
        return _in_range(field, datetime.fromisoformat(s.replace("Z", "+00:00")))
    except ValueError:
        pass
    for fmt in _FORMATS:
        try:
            return _in_range(field, datetime.strptime(s, fmt))
        except ValueError:
            continue
    raise _bad(field, f"{s[:40]!r} is not an ISO 8601 time such as 2026-11-10T09:30:00Z")


def _id(field: str, v: object, *, required: bool) -> str | None:
    if v is None or v == "":
        if required:
            raise _bad(field, "no ticket/issue id")
        return None
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise _bad(field, "expected a string or integer id")
    s = str(v).strip()
    if len(s) > MAX_ID_CHARS:
        raise _bad(field, f"longer than {MAX_ID_CHARS} characters")
    return s


def _str(field: str, v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise _bad(field, "expected text")
    return str(v).strip()


def _adf_text(node: object) -> str:
    """Plain text of a Jira description: a string (v2) or an ADF document (v3), depth already bounded."""
    if isinstance(node, str):
        return node
    if isinstance(node, Mapping):
        own = str(node.get("text", "")) if node.get("type") == "text" else ""
        kids = node.get("content") or []
        return (own + " " + " ".join(_adf_text(k) for k in kids if isinstance(kids, list))).strip()
    if isinstance(node, list):
        return " ".join(_adf_text(k) for k in node)
    return ""


def _text(subject: str, body: str) -> str:
    if subject and body and subject.lower() not in body.lower():
        return f"{subject}. {body}"
    return body or subject


def _mapped(source: str, ext: str | None, text: str, status: str | None, created: datetime | None,
            updated: datetime | None, customer: str | None, channel: str) -> Mapped:
    now = datetime.now(UTC)
    row: dict[str, object] = {
        "source": source, "external_id": ext, "text": text, "ticket_status": status,
        "created_at": (created or now).isoformat(), "opened_at": created.isoformat() if created else None,
        "resolved_at": (updated or now).isoformat() if status in _DONE else None,
        "customer_id": customer, "channel": channel}
    return Mapped(row, updated)


def _obj(field: str, v: object) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise InputError(f"{field}: must be an object")
    return v


def map_zendesk(p: Mapping[str, Any]) -> Mapped:
    """A Zendesk event webhook or trigger/webhook payload → raw ingest row."""
    if str(p.get("type", "")).startswith("zen:event-type:"):
        d = _obj("detail", p.get("detail") or {})
        at = _time("detail.updated_at", d.get("updated_at")) or _time("time", p.get("time"))
        m = _mapped("zendesk", _id("detail.id", d.get("id"), required=True),
                    _text(_str("detail.subject", d.get("subject")), _str("detail.description", d.get("description"))),
                    _status(d.get("status")), _time("detail.created_at", d.get("created_at")), at,
                    _id("detail.requester_id", d.get("requester_id"), required=False), "ticket")
        return m
    key = "ticket" if "ticket" in p else None
    t = _obj("ticket", p["ticket"]) if key else p
    f = (lambda name: f"ticket.{name}") if key else (lambda name: name)
    req = t.get("requester")
    cust = req.get("id") if isinstance(req, Mapping) else (req or t.get("requester_id"))
    return _mapped("zendesk", _id(f("id"), t.get("id"), required=True),
                   _text(_str(f("title"), t.get("subject") or t.get("title")),
                         _str(f("description"), t.get("description"))),
                   _status(t.get("status")), _time(f("created_at"), t.get("created_at")),
                   _time(f("updated_at"), t.get("updated_at")), _id(f("requester.id"), cust, required=False), "ticket")


def map_freshdesk(p: Mapping[str, Any]) -> Mapped:
    """A Freshdesk automation webhook payload → raw ingest row."""
    d = _obj("freshdesk_webhook", p.get("freshdesk_webhook", p))
    f = (lambda name: f"freshdesk_webhook.{name}") if "freshdesk_webhook" in p else (lambda name: name)
    created_key = "ticket_created_at" if d.get("ticket_created_at") not in (None, "") else "ticket_created_on"
    updated_key = "ticket_updated_at" if d.get("ticket_updated_at") not in (None, "") else "ticket_resolved_at"
    cust_key = "ticket_contact_id" if d.get("ticket_contact_id") not in (None, "") else "ticket_requester_id"
    return _mapped("freshdesk", _id(f("ticket_id"), d.get("ticket_id"), required=True),
                   _text(_str(f("ticket_subject"), d.get("ticket_subject")),
                         _str(f("ticket_description"), d.get("ticket_description"))),
                   _status(d.get("ticket_status")), _time(f(created_key), d.get(created_key)),
                   _time(f(updated_key), d.get(updated_key)), _id(f(cust_key), d.get(cust_key), required=False),
                   "ticket")


def map_jira(p: Mapping[str, Any]) -> Mapped:
    """A Jira ``jira:issue_created`` / ``jira:issue_updated`` webhook → raw ingest row."""
    event = p.get("webhookEvent")
    if event not in ("jira:issue_created", "jira:issue_updated"):
        raise InputError(f"jira payload: webhookEvent {event!r} is not jira:issue_created or jira:issue_updated")
    issue = p.get("issue")
    if not isinstance(issue, Mapping) or not isinstance(issue.get("fields", {}), Mapping):
        raise InputError("jira payload: 'issue' with 'fields' is required")
    f = issue.get("fields") or {}
    status = _status(f.get("status"))
    resolved = _time("issue.fields.resolutiondate", f.get("resolutiondate"))
    if resolved and status not in _DONE:
        status = "resolved"
    updated = _time("issue.fields.updated", f.get("updated")) or _time("timestamp", p.get("timestamp"))
    rep = f.get("reporter")
    key = "issue.key" if issue.get("key") not in (None, "") else "issue.id"
    desc = f.get("description")
    if desc is not None and not isinstance(desc, (str, Mapping, list)):
        raise _bad("issue.fields.description", "expected text or an Atlassian document")
    m = _mapped("jira", _id(key, issue.get(key.split(".")[1]), required=True),
                _text(_str("issue.fields.summary", f.get("summary")), _adf_text(desc).strip()),
                status, _time("issue.fields.created", f.get("created")), resolved or updated,
                _id("issue.fields.reporter.accountId", rep.get("accountId") if isinstance(rep, Mapping) else None,
                    required=False), "issue")
    return Mapped(m.row, updated)


def map_event(tool: str, payload: Mapping[str, Any]) -> Mapped:
    """The tool's payload as a raw ingest row and the ticket's own updated time."""
    return {"zendesk": map_zendesk, "freshdesk": map_freshdesk, "jira": map_jira}[tool](payload)


def map_payload(tool: str, payload: Mapping[str, Any]) -> dict[str, object]:
    """The raw ingest row only (no event ordering); prefer :func:`map_event`."""
    return map_event(tool, payload).row
