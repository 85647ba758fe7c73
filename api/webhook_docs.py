"""OpenAPI text for the webhook routes: what a ticketing admin needs to wire each tool up.

Kept apart from the routes so the route module stays short; docs/CONNECTING.md has the same
settings step by step.
"""

from __future__ import annotations

from typing import Any

from feedback_miner.adapters.webhook_auth import JIRA_TOLERANCE_S, ZENDESK_TOLERANCE_S
from feedback_miner.adapters.webhooks import MAX_DEPTH, MAX_ID_CHARS

__all__ = ["DESCRIPTIONS", "EXAMPLES", "request_body"]

_COMMON = f"""
**Two credentials.** Every call needs an API key with role `ingest` (`X-API-Key: fm_…`, create one with
`feedback-miner keys create --role ingest --name <tool>`) **and** the tool's own secret, configured on
the server as an environment variable (the one exception: a Jira delivery signed with `X-Hub-Signature`).
Without the setting the endpoint answers 503.

**Times** are ISO 8601 (`2026-11-10T09:30:00Z`, an offset or `Z`; minutes-only `2026-11-10T09:30Z` is
fine), epoch seconds or milliseconds, between 2000 and 2100; anything else is a 422 naming the field.
Ids are at most {MAX_ID_CHARS} characters; JSON at most {MAX_DEPTH} levels deep.

**Answers.** `stored` (new), `duplicate` (redelivery, nothing changed), `updated` (status or resolution
changed), `stale` (the ticket's updated time is older than the last event applied for it: nothing
changed, so a late or replayed delivery never sets a solved ticket back to open). All are 200, so the tool
does not retry them. 401 = bad key, signature or secret; 422 = a bad field (named in `fields`).
"""

DESCRIPTIONS: dict[str, str] = {
    "zendesk": f"""Zendesk triggers/automations (webhook with a JSON body) and Zendesk event webhooks.

**Secret:** `FM_ZENDESK_SECRET` = the webhook's *signing secret* (Admin Center → Apps and integrations →
Webhooks → your webhook → *Reveal secret*).

**Signature:** Zendesk sends `X-Zendesk-Webhook-Signature` = `base64(HMAC-SHA256(secret, timestamp + raw
body))` and `X-Zendesk-Webhook-Signature-Timestamp` (ISO 8601). Both are required; a timestamp more than
{ZENDESK_TOLERANCE_S} s from the server clock is refused (replay protection).

**Trigger body (placeholders → fields):** `ticket.id` ← `{{{{ticket.id}}}}`, `ticket.title` ←
`{{{{ticket.title}}}}`, `ticket.description` ← `{{{{ticket.description}}}}`, `ticket.status` ←
`{{{{ticket.status}}}}`, `ticket.created_at` ← `{{{{ticket.created_at_with_timestamp}}}}`,
`ticket.updated_at` ← `{{{{ticket.updated_at_with_timestamp}}}}` (orders events), `ticket.requester_id` ←
`{{{{ticket.requester.id}}}}`. Event webhooks (`zen:event-type:ticket.*`) need no body template: `detail`
is mapped as sent.
""" + _COMMON,
    "freshdesk": """Freshdesk automation rules with the *Trigger webhook* action.

**Secret:** `FM_FRESHDESK_SECRET`; Freshdesk sends it in a custom header `X-Webhook-Secret`. Freshdesk cannot
sign requests, so this is a static shared secret: it proves who sent a request, not when — a captured
request could be resent until you rotate the secret. Use HTTPS. Include `ticket_updated_at` so a resent
old event is answered `stale` rather than applied.

**Body (placeholders → fields):** `freshdesk_webhook.ticket_id` ← `{{ticket.id}}`, `ticket_subject` ←
`{{ticket.subject}}`, `ticket_description` ← `{{ticket.description}}`, `ticket_status` ←
`{{ticket.status}}`, `ticket_created_at` / `ticket_updated_at` ← the ticket's created / updated time
placeholders, `ticket_contact_id` ← the requester's id. Freshdesk's "Simple" content sends the same
`freshdesk_webhook` object. Freshdesk's display form `Tue, 10 Nov 2026 at 9:30 AM` is accepted too.
""" + _COMMON,
    "jira": f"""Jira Cloud/Data Center system webhooks (`jira:issue_created`, `jira:issue_updated`) or Jira
Automation *Send web request*.

**Secret:** `FM_JIRA_SECRET`. Preferred: set the same value as the webhook's *Secret* in Jira (System →
WebHooks); Jira then signs each body: `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`, and the
signed body's `timestamp` (epoch ms) must be within {JIRA_TOLERANCE_S} s (Jira retries for up to 30 min).
Jira's system webhooks cannot send headers of your choosing, so **a signed delivery needs no API key**
(the signature proves the sender holds the secret; if a key is sent it is checked). Bad signatures from a
client count as failed key checks (429 after 10 in 60 s). Otherwise (Automation *Send web request*, which
cannot sign) send an ingest key in `X-API-Key` and the secret in `X-Webhook-Secret`: a static secret, with
the same limits as Freshdesk's.

**Fields:** `issue.key` (id), `issue.fields.summary` + `description` (text or Atlassian document),
`status.name`, `created`, `updated` (orders events; else `timestamp`), `resolutiondate`, `reporter.accountId`.
In Automation use `{{{{issue.key}}}}`, `{{{{issue.summary}}}}`, `{{{{issue.description}}}}`,
`{{{{issue.status.name}}}}`, `{{{{issue.created}}}}`, `{{{{issue.updated}}}}`, `{{{{issue.resolutiondate}}}}`.
""" + _COMMON,
}

EXAMPLES: dict[str, dict[str, dict[str, Any]]] = {
    "zendesk": {
        "trigger": {"summary": "Trigger/automation webhook body (placeholders filled in)", "value": {"ticket": {
            "id": "35436", "title": "Card declined", "description": "My card is declined at checkout",
            "status": "Open", "created_at": "2026-11-10T09:30Z", "updated_at": "2026-11-10T09:30Z",
            "requester_id": "8871"}}},
        "event": {"summary": "Event webhook (zen:event-type:ticket.created)", "value": {
            "type": "zen:event-type:ticket.created", "id": "cbe4028c", "time": "2026-11-10T09:30:00Z",
            "detail": {"id": "35436", "subject": "Card declined", "description": "My card is declined at checkout",
                       "status": "OPEN", "created_at": "2026-11-10T09:30:00Z",
                       "updated_at": "2026-11-10T09:30:00Z", "requester_id": "8871"}}},
    },
    "freshdesk": {
        "automation": {"summary": "Trigger webhook action, JSON content", "value": {"freshdesk_webhook": {
            "ticket_id": 812, "ticket_subject": "Parcel late", "ticket_description": "My parcel is a week late",
            "ticket_status": "Open", "ticket_created_at": "2026-11-10T09:30:00Z",
            "ticket_updated_at": "2026-11-10T09:30:00Z", "ticket_contact_id": 5501}}},
    },
    "jira": {
        "system-webhook": {"summary": "System webhook, jira:issue_created", "value": {
            "timestamp": 1794302400000, "webhookEvent": "jira:issue_created", "issue": {"key": "SUP-17", "fields": {
                "summary": "App crashes on login", "description": "Crash after entering password",
                "status": {"name": "To Do"}, "created": "2026-11-10T09:30:00.000+0000",
                "updated": "2026-11-10T09:30:00.000+0000", "resolutiondate": None,
                "reporter": {"accountId": "5b10a2844c20165700ede21g"}}}}},
    },
}


def request_body(tool: str) -> dict[str, Any]:
    """The ``openapi_extra`` request body: any JSON object, with the tool's examples."""
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"type": "object", "additionalProperties": True}, "examples": EXAMPLES[tool]}}}}
