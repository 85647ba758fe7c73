"""Review loop (role lead), classifier versions (role admin) and problem actions (lead).

Thin routes: parse, call one function, return. The helpers below the routes compose core calls
that the pages (api/routes/pages.py) share.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request

from api.auth import Svc, require
from api.routes import errors
from api.schemas import (
    AuditEntry,
    BulkResult,
    BulkReview,
    FixRequest,
    ProblemAction,
    RenameRequest,
    RetrainRequest,
    RetrainResult,
    ReviewDecision,
    ReviewQueue,
    ReviewResult,
    RollbackRequest,
    RollbackResult,
)
from api.schemas import Category as CategoryLit
from api.services import Services
from feedback_miner.adapters import queries
from feedback_miner.adapters.keys import ApiKey
from feedback_miner.adapters.registry_store import mark_fixed, rename
from feedback_miner.adapters.review_store import audit_trail, confirm, confirmations
from feedback_miner.domain.weeks import WEEK_PATTERN
from feedback_miner.errors import ConflictError
from feedback_miner.services.review import confirm_many

__all__ = ["retrain_served", "rollback_served", "router"]

router = APIRouter(prefix="/v1")
Lead = Annotated[ApiKey, Depends(require("lead"))]
Admin = Annotated[ApiKey, Depends(require("admin"))]
FeedbackId = Annotated[int, Path(ge=1, le=2**62, description="Feedback id")]
ProblemId = Annotated[str, Path(max_length=64, description="Problem id", examples=["payment-003"])]


@router.get("/review/queue", response_model=ReviewQueue, tags=["review"], responses=errors(401, 403, 422))
def get_queue(
    svc: Svc, _: Lead,
    week: Annotated[str | None, Query(pattern=WEEK_PATTERN, description="Default: newest week")] = None,
    category: Annotated[CategoryLit | None, Query(description="Current (confirmed or predicted) category")] = None,
    source: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Unconfirmed items, least certain and most important first, with the week's progress."""
    return queries.review_overview(svc.store, week=week, category=category, source=source, limit=limit, offset=offset)


@router.post("/review/bulk", response_model=BulkResult, tags=["review"], responses=errors(401, 403, 413, 422))
def post_bulk(req: BulkReview, svc: Svc, key: Lead) -> dict[str, Any]:
    """Confirm or correct many items; one result per item (an unknown id fails alone)."""
    return confirm_many(partial(confirm, svc.store), ((i.id, i.category, i.secondary_category) for i in req.items),
                        reviewer=key.name)


@router.post("/review/{feedback_id}", response_model=ReviewResult, tags=["review"],
             responses=errors(401, 403, 404, 422))
def post_review(feedback_id: FeedbackId, req: ReviewDecision, svc: Svc, key: Lead) -> dict[str, Any]:
    """Confirm or correct one item's category ("not an issue" = `other`); audited under the key's name."""
    return confirm(svc.store, feedback_id, category=req.category, secondary=req.secondary_category, reviewer=key.name)


@router.get("/review/audit", response_model=list[AuditEntry], tags=["review"], responses=errors(401, 403, 422))
def get_audit(
    svc: Svc, _: Lead,
    feedback_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    """Review decisions, newest first: who, when, old and new category."""
    return audit_trail(svc.store, feedback_id, limit)


@router.post("/model/retrain", response_model=RetrainResult, tags=["model"], responses=errors(401, 403, 409, 422))
def post_retrain(request: Request, svc: Svc, _: Admin,
                 req: Annotated[RetrainRequest | None, Body()] = None) -> dict[str, Any]:
    """Train a new classifier version on the seeds plus confirmations; promote it only if not worse.

    Synchronous: takes about 30–60 s with the real model. 409 while another retrain or rollback runs.
    """
    return retrain_served(svc, request.app.state.model_lock, weight=req.weight if req else None)


@router.post("/model/rollback", response_model=RollbackResult, tags=["model"],
             responses=errors(401, 403, 404, 409, 422))
def post_rollback(request: Request, svc: Svc, _: Admin,
                  req: Annotated[RollbackRequest | None, Body()] = None) -> dict[str, Any]:
    """Make an earlier classifier version current (default: the one before) and serve it."""
    return rollback_served(svc, request.app.state.model_lock, req.to if req else None)


@router.post("/problems/{problem_id}/fix", response_model=ProblemAction, tags=["problems"],
             responses=errors(401, 403, 404, 422))
def post_fix(problem_id: ProblemId, req: FixRequest, svc: Svc, key: Lead) -> dict[str, Any]:
    """Mark a problem fixed in `week`; later digests watch whether the fix holds."""
    pid = mark_fixed(svc.store, problem_id, week=req.week, by=key.name, link=req.link)
    return {"id": pid, "fixed_week": req.week, "fix_link": req.link, "fixed_by": key.name}


@router.post("/problems/{problem_id}/rename", response_model=ProblemAction, tags=["problems"],
             responses=errors(401, 403, 404, 422))
def post_rename(problem_id: ProblemId, req: RenameRequest, svc: Svc, key: Lead) -> dict[str, Any]:
    """Give a problem a title that sticks across later runs."""
    pid = rename(svc.store, problem_id, req.title, by=key.name)
    return {"id": pid, "title": " ".join(req.title.split())}


@contextmanager
def _one_model_change(lock: threading.Lock) -> Iterator[None]:
    if not lock.acquire(blocking=False):
        raise ConflictError("a retrain or rollback is already running; try again when it has finished")
    try:
        yield
    finally:
        lock.release()


def retrain_served(svc: Services, lock: threading.Lock, *, weight: float | None) -> dict[str, Any]:
    """Retrain on this server's store and models dir, then serve whatever version is current."""
    with _one_model_change(lock):
        return svc.retrain(confirmations(svc.store), weight=weight)


def rollback_served(svc: Services, lock: threading.Lock, to: str | None) -> dict[str, Any]:
    """Roll the classifier back (default: the version before), update the model card, serve it."""
    with _one_model_change(lock):
        return svc.rollback(to)
