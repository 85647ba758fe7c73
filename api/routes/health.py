"""GET /healthz (process up), GET /readyz (model loaded, store reachable), GET /metrics."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.schemas import Health
from feedback_miner.errors import FeedbackMinerError

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> dict[str, Any]:
    """The process is up."""
    return {"status": "ok", "checks": {}}


@router.get("/readyz", response_model=Health, responses={503: {"model": Health, "description": "Not ready"}})
def readyz(request: Request) -> JSONResponse:
    """Ready when this worker process has loaded its model and classifier and the store answers
    (``checks.worker`` is the answering process's id: each of ``serve --workers N`` answers for itself)."""
    svc = getattr(request.app.state, "services", None)
    checks: dict[str, Any] = {"model": svc is not None and svc.embedder is not None, "worker": os.getpid()}
    try:
        checks["store"] = bool(svc is not None and svc.store.ping())
    except FeedbackMinerError as exc:
        checks["store"] = False
        checks["store_error"] = str(exc)
    if svc is not None:
        checks["model_id"] = svc.embedder.model_id
        checks["classifier_version"] = svc.classifier_version
    ok = bool(checks["model"] and checks["store"])
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(request: Request) -> Response:
    """Prometheus metrics of this app instance."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
