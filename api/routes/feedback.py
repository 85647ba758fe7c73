"""POST /v1/feedback and POST /v1/classify (role ingest)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.auth import Svc, require
from api.routes import errors
from api.schemas import MAX_CLASSIFY_CHARS, BatchResult, ClassifyRequest, ClassifyResponse, FeedbackBatch
from feedback_miner.adapters.keys import ApiKey
from feedback_miner.errors import InputError

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["ingest"])
Ingest = Annotated[ApiKey, Depends(require("ingest"))]


@router.post("/feedback", response_model=BatchResult, responses=errors(401, 403, 413, 422))
def post_feedback(batch: FeedbackBatch, svc: Svc, _: Ingest) -> dict[str, object]:
    """Ingest a batch of comments or tickets; idempotent on (source, external_id).

    Each item gets its own result: stored, duplicate (already there, nothing added), updated
    (ticket fields such as status changed) or rejected with the field and reason.
    """
    return svc.ingest_batch([i.model_dump(exclude_none=True) for i in batch.items])


@router.post("/classify", response_model=ClassifyResponse, responses=errors(401, 403, 413, 422))
def post_classify(req: ClassifyRequest, svc: Svc, _: Ingest) -> dict[str, object]:
    """Classify texts without storing them; results in the same order, with the nearest known problem."""
    for n, t in enumerate(req.texts):
        if len(t) > MAX_CLASSIFY_CHARS:
            raise InputError(f"texts.{n}: longer than {MAX_CLASSIFY_CHARS} characters")
    return {"results": svc.classify(req.texts)}
