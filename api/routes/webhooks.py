"""POST /v1/webhooks/{zendesk,freshdesk,jira} (role ingest + the tool's signature or secret)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from api.auth import Svc, require, require_unless_signed
from api.routes import errors
from api.security import client_address
from api.services import Services
from api.webhook_docs import DESCRIPTIONS, request_body
from feedback_miner.adapters import webhook_auth, webhooks
from feedback_miner.adapters.keys import ApiKey
from feedback_miner.domain.types import FeedbackItem
from feedback_miner.errors import AuthError, RowError
from feedback_miner.stages.ingest import ColumnMapping

__all__ = ["WebhookOut", "ingest_webhook", "router"]

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
Ingest = Annotated[ApiKey, Depends(require("ingest"))]
# Jira's system webhooks sign the body but cannot send an API key header: a signed delivery needs no key.
JiraCaller = Annotated[ApiKey | None, Depends(require_unless_signed("x-hub-signature", "ingest"))]
_MAPPING = ColumnMapping()


class WebhookOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "stored", "id": 12,
                                                               "source": "zendesk", "external_id": "35436"}]})
    status: Literal["stored", "duplicate", "updated", "stale"]
    id: int
    source: str
    external_id: str


def _item(svc: Services, raw: Mapping[str, object], tool: str) -> FeedbackItem:
    """The mapped row as a stored item, through the API's one ingest path (redacted, pseudonymised)."""
    try:
        return svc.parse_item(raw, 0, tool)
    except RowError as err:
        raise webhooks.PayloadError(err.field or "payload", err.reason) from err
    except (ValueError, OverflowError, OSError) as exc:
        raise webhooks.PayloadError("payload", f"invalid value: {exc}") from exc


def ingest_webhook(svc: Services, tool: str, body: bytes, headers: Mapping[str, str],
                   *, now: datetime | None = None) -> dict[str, Any]:
    """Check the delivery's signature/secret (and its age where signed), map it and apply it in order."""
    s = svc.settings
    signed_at: datetime | None = None
    jira_signed = False
    if tool == "zendesk":
        signed_at = webhook_auth.verify_zendesk(s.zendesk_secret, headers.get("x-zendesk-webhook-signature"),
                                                headers.get("x-zendesk-webhook-signature-timestamp"), body, now=now)
    elif tool == "freshdesk":
        webhook_auth.verify_shared_secret(s.freshdesk_secret, headers.get("x-webhook-secret"), tool)
    else:
        jira_signed = webhook_auth.verify_jira(s.jira_secret, headers.get("x-hub-signature"),
                                               headers.get("x-webhook-secret"), body)
    payload = webhooks.parse_json(body)
    if jira_signed:
        webhook_auth.check_jira_timestamp(payload.get("timestamp"), now=now)
    mapped = webhooks.map_event(tool, payload)
    item = _item(svc, mapped.row, tool)
    fid, outcome = svc.store.upsert_feedback(item, event_at=mapped.event_at or signed_at)
    return {"status": outcome, "id": fid, "source": tool, "external_id": item.external_id}


async def _handle(tool: str, request: Request, svc: Services, *, keyless: bool = False) -> dict[str, Any]:
    """Ingest one delivery; a keyless (signature-only) caller's bad signatures count as failed key checks."""
    body = await request.body()
    if not keyless:
        result: dict[str, Any] = await run_in_threadpool(ingest_webhook, svc, tool, body, request.headers)
        return result
    limiter, client = request.app.state.auth_limiter, client_address(request.scope)
    await run_in_threadpool(limiter.check, client)
    try:
        result = await run_in_threadpool(ingest_webhook, svc, tool, body, request.headers)
    except AuthError:
        await run_in_threadpool(limiter.failed, client)
        raise
    return result


_RESPONSES = errors(401, 403, 413, 422, 429, 503)
Secret = Annotated[str | None, Header(alias="X-Webhook-Secret", description="The static shared secret "
                                      "(FM_FRESHDESK_SECRET / FM_JIRA_SECRET), when the tool cannot sign.")]


@router.post("/zendesk", response_model=WebhookOut, openapi_extra=request_body("zendesk"), responses=_RESPONSES,
             summary="Zendesk ticket webhook (signed)", description=DESCRIPTIONS["zendesk"])
async def zendesk(
    request: Request, svc: Svc, _: Ingest,
    signature: Annotated[str | None, Header(
        alias="X-Zendesk-Webhook-Signature", description="base64(HMAC-SHA256(FM_ZENDESK_SECRET, timestamp + body))",
        examples=["Qz1cOiXBqVGnPbNWB4nzaGFSAWBYhLxuhBIOYXO5Nnw="])] = None,
    timestamp: Annotated[str | None, Header(
        alias="X-Zendesk-Webhook-Signature-Timestamp", description="ISO 8601 time Zendesk signed; at most "
        f"{webhook_auth.ZENDESK_TOLERANCE_S} s from the server clock", examples=["2026-11-10T09:30:01Z"])] = None,
) -> dict[str, Any]:
    return await _handle("zendesk", request, svc)


@router.post("/freshdesk", response_model=WebhookOut, openapi_extra=request_body("freshdesk"), responses=_RESPONSES,
             summary="Freshdesk automation webhook (shared secret)", description=DESCRIPTIONS["freshdesk"])
async def freshdesk(request: Request, svc: Svc, _: Ingest, secret: Secret = None) -> dict[str, Any]:
    return await _handle("freshdesk", request, svc)


@router.post("/jira", response_model=WebhookOut, openapi_extra=request_body("jira"), responses=_RESPONSES,
             summary="Jira issue webhook (HMAC or shared secret)", description=DESCRIPTIONS["jira"])
async def jira(
    request: Request, svc: Svc, caller: JiraCaller, secret: Secret = None,
    hub_signature: Annotated[str | None, Header(
        alias="X-Hub-Signature", description="sha256=<hex HMAC-SHA256(FM_JIRA_SECRET, body)>, sent by Jira "
        "webhooks that have a secret",
        examples=["sha256=5d7370c827b66f5e0b8e2e9b6ab0dc4f1e8a92c3d7f6b5a4e3d2c1b0a9f8e7d6"])] = None,
) -> dict[str, Any]:
    return await _handle("jira", request, svc, keyless=caller is None)
