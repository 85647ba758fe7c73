"""POST /v1/webhooks/{zendesk,freshdesk,jira} (role ingest + the tool's signature or secret)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from api.auth import Svc, require
from api.routes import errors
from api.schemas import WebhookResult
from feedback_miner.adapters.keys import ApiKey

__all__ = ["router"]

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
Ingest = Annotated[ApiKey, Depends(require("ingest"))]

_EXAMPLES: dict[str, dict[str, Any]] = {
    "zendesk": {"type": "zen:event-type:ticket.created", "id": "cbe4028c", "time": "2026-11-10T09:30:00Z",
                "detail": {"id": "35436", "subject": "Card declined", "description": "My card is declined at checkout",
                           "status": "OPEN", "created_at": "2026-11-10T09:30:00Z",
                           "updated_at": "2026-11-10T09:30:00Z", "requester_id": "8871"}},
    "freshdesk": {"freshdesk_webhook": {"ticket_id": 812, "ticket_subject": "Parcel late",
                                        "ticket_description": "My parcel is a week late", "ticket_status": "Open",
                                        "ticket_created_at": "2026-11-10T09:30:00Z"}},
    "jira": {"webhookEvent": "jira:issue_created", "issue": {"key": "SUP-17", "fields": {
        "summary": "App crashes on login", "description": "Crash after entering password",
        "status": {"name": "To Do"}, "created": "2026-11-10T09:30:00.000+0000", "resolutiondate": None}}},
}


def _doc(tool: str) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"type": "object", "additionalProperties": True}, "example": _EXAMPLES[tool]}}}}


async def _handle(tool: str, request: Request, svc: Svc) -> dict[str, Any]:
    body = await request.body()
    result: dict[str, Any] = await run_in_threadpool(svc.ingest_webhook, tool, body, request.headers)
    return result


@router.post("/zendesk", response_model=WebhookResult, openapi_extra=_doc("zendesk"),
             responses=errors(401, 403, 413, 422, 503))
async def zendesk(request: Request, svc: Svc, _: Ingest) -> dict[str, Any]:
    """Zendesk ticket events and trigger webhooks; signed (X-Zendesk-Webhook-Signature + timestamp)."""
    return await _handle("zendesk", request, svc)


@router.post("/freshdesk", response_model=WebhookResult, openapi_extra=_doc("freshdesk"),
             responses=errors(401, 403, 413, 422, 503))
async def freshdesk(request: Request, svc: Svc, _: Ingest) -> dict[str, Any]:
    """Freshdesk automation webhooks; shared secret in X-Webhook-Secret."""
    return await _handle("freshdesk", request, svc)


@router.post("/jira", response_model=WebhookResult, openapi_extra=_doc("jira"),
             responses=errors(401, 403, 413, 422, 503))
async def jira(request: Request, svc: Svc, _: Ingest) -> dict[str, Any]:
    """Jira jira:issue_created / jira:issue_updated; shared secret in X-Webhook-Secret."""
    return await _handle("jira", request, svc)
