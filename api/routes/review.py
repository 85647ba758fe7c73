"""Review loop (role lead), classifier versions (role admin) and problem actions (lead).

Thin routes: parse, call one function, return. The helpers below the routes compose core calls
that the pages (api/routes/pages.py) share.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request

from api.auth import Svc, require
from api.routes import errors
from api.schemas import (
    AuditEntry, BulkResult, BulkReview, FixRequest, ProblemAction, RenameRequest, RetrainRequest, RetrainResult,
    ReviewDecision, ReviewQueue, ReviewResult, RollbackRequest, RollbackResult,
)
from api.services import Services
from feedback_miner.adapters import queries
from feedback_miner.adapters.keys import ApiKey
from feedback_miner.adapters.registry_store import mark_fixed, rename
from feedback_miner.adapters.review_store import audit_trail, confirm
from feedback_miner.adapters.store import Store
from feedback_miner.errors import ConflictError, NotFoundError

__all__ = ["router", "confirm_many", "retrain_served", "rollback_served"]

router = APIRouter(prefix="/v1")
Lead = Annotated[ApiKey, Depends(require("lead"))]
Admin = Annotated[ApiKey, Depends(require("admin"))]
FeedbackId = Annotated[int, Path(ge=1, le=2**62, description="Feedback id")]
ProblemId = Annotated[str, Path(max_length=64, description="Problem id", examples=["payment-003"])]
CategoryQ = Literal["technical", "user_interface", "payment", "account", "shipping", "feature_request", "other"]


@router.get("/review/queue", response_model=ReviewQueue, tags=["review"], responses=errors(401, 403, 422))
def get_queue(
    svc: Svc, _: Lead,
    week: Annotated[str | None, Query(pattern=r"^\d{4}-W\d{2}$", description="Default: newest week")] = None,
    category: Annotated[CategoryQ | None, Query(description="Current (confirmed or predicted) category")] = None,
    source: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Unconfirmed items, least certain and most important first, with the week's progress."""
    return queries.review_overview(svc.store, week=week, category=category, source=source, limit=limit, offset=offset)


@router.post("/review/bulk", response_model=BulkResult, tags=["review"], responses=errors(401, 403, 413, 422))
def post_bulk(req: BulkReview, svc: Svc, key: Lead) -> dict[str, Any]:
    """Confirm or correct many items; one result per item (an unknown id fails alone)."""
    return confirm_many(svc.store, ((i.id, i.category, i.secondary_category) for i in req.items), reviewer=key.name)


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


# -- helpers shared with the pages -----------------------------------------------------------------

def confirm_many(store: Store, items: Iterable[tuple[int, str, str | None]], *, reviewer: str) -> dict[str, Any]:
    """Confirm each (id, category, secondary); per-item results like ingest's."""
    results = []
    for fid, category, secondary in items:
        try:
            r = confirm(store, fid, category=category, secondary=secondary, reviewer=reviewer)
        except NotFoundError as exc:
            results.append({"id": fid, "status": "not_found", "old_category": None, "category": category,
                            "error": str(exc)})
            continue
        results.append({"id": fid, "status": "corrected" if r["corrected"] else "confirmed",
                        "old_category": r["old_category"], "category": category, "error": None})
    counts = {k: sum(r["status"] == k for r in results) for k in ("confirmed", "corrected", "not_found")}
    return {"counts": counts, "results": results}


@contextmanager
def _model_change(svc: Services, lock: threading.Lock) -> Iterator[None]:
    # An injected classifier (tests, embedding apps) is not the artefact under models/: retraining or
    # rolling back would rewrite files this server does not classify with, so refuse.
    if svc.classifier_version == "injected":
        raise ConflictError("this server classifies with an injected classifier, not one loaded from models/; "
                            "use `feedback-miner retrain` / `feedback-miner model rollback` instead")
    if not lock.acquire(blocking=False):
        raise ConflictError("a retrain or rollback is already running; try again when it has finished")
    try:
        yield
    finally:
        lock.release()


def _serve_current(svc: Services) -> str:
    """Load the current (or the pinned) classifier version and classify with it from now on."""
    from feedback_miner.bootstrap import make_classifier

    clf, manifest = make_classifier(svc.settings)
    svc.clf, svc.classifier_version = clf, str(manifest["version"])
    return svc.classifier_version


def retrain_served(svc: Services, lock: threading.Lock, *, weight: float | None) -> dict[str, Any]:
    """``retrain_command`` on this server's store, then serve whatever version is current."""
    from feedback_miner.cli_model import retrain_command

    with _model_change(svc, lock):
        db = svc.settings.database_url
        result = retrain_command(db) if weight is None else retrain_command(db, weight)
        return {**result, "serving": _serve_current(svc)}


def rollback_served(svc: Services, lock: threading.Lock, to: str | None) -> dict[str, Any]:
    """Roll the classifier back (default: the version before), update the model card, serve it."""
    from feedback_miner.model_card import update_model_card
    from feedback_miner.training import rollback

    with _model_change(svc, lock):
        version = rollback(svc.settings.models_dir / "classifier", to)
        update_model_card(svc.settings.models_dir)
        return {"version": version, "serving": _serve_current(svc)}
