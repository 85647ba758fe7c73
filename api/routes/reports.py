"""Digests (role reader), runs (role admin), problems (role reader)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from api.auth import Svc, require
from api.routes import errors
from api.schemas import Category, ProblemDetail, ProblemPage, RunOut, RunRequest
from api.schemas_digest import DigestOut
from feedback_miner.adapters import queries
from feedback_miner.adapters.keys import ApiKey
from feedback_miner.adapters.render import render_digest
from feedback_miner.domain.weeks import WEEK_PATTERN

__all__ = ["router"]

router = APIRouter(prefix="/v1")
Reader = Annotated[ApiKey, Depends(require("reader"))]
Admin = Annotated[ApiKey, Depends(require("admin"))]
Week = Annotated[str, Path(pattern=WEEK_PATTERN, description="ISO week", examples=["2026-W46"])]


@router.get("/digests/{iso_week}", tags=["digests"], responses={
    200: {"description": "The digest (JSON follows the DigestOut schema)", "model": DigestOut,
          "content": {"text/markdown": {}, "text/html": {}}},
    **errors(401, 403, 404, 422)})
def get_digest(iso_week: Week, svc: Svc, _: Reader,
               format: Annotated[Literal["json", "md", "html"], Query()] = "json") -> Response:
    """The weekly top-issues digest: JSON (default), Markdown or HTML."""
    d = svc.get_digest(iso_week)
    if format == "json":
        return JSONResponse(DigestOut.model_validate(d.to_dict()).model_dump(mode="json"))
    text = render_digest(d, format)
    if format == "md":
        return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")
    return HTMLResponse(text)


@router.post("/runs", status_code=202, response_model=RunOut, tags=["runs"], responses=errors(401, 403, 404, 409, 422))
def post_run(svc: Svc, _: Admin, req: Annotated[RunRequest | None, Body()] = None) -> dict[str, Any]:
    """Start the weekly run in the background (202); 409 if one is running. Poll GET /v1/runs."""
    return svc.start_run(req.week if req else None)


@router.get("/runs", response_model=list[RunOut], tags=["runs"], responses=errors(401, 403))
def get_runs(svc: Svc, _: Admin) -> list[dict[str, Any]]:
    """The latest runs, newest first."""
    return svc.runs()


@router.get("/problems", response_model=ProblemPage, tags=["problems"], responses=errors(401, 403, 422))
def get_problems(
    svc: Svc, _: Reader,
    category: Annotated[Category | None, Query()] = None,
    status: Annotated[Literal["new", "growing", "steady", "fading", "fixed", "resurfaced"] | None, Query()] = None,
    week: Annotated[str | None, Query(pattern=WEEK_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Known problems, highest priority first, with their figures for `week` (default: latest)."""
    items, total = queries.list_problems(svc.store, category=category, status=status, week=week,
                                         limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@router.get("/problems/{problem_id}", response_model=ProblemDetail, tags=["problems"],
            responses=errors(401, 403, 404))
def get_problem(problem_id: Annotated[str, Path(max_length=64)], svc: Svc, _: Reader) -> dict[str, Any]:
    """One problem: weekly counts, members' quotes, breakdowns."""
    return queries.problem_detail(svc.store, problem_id)
