"""The follow-up survey list of a problem (role lead): who reported it, one row per customer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from api.auth import Svc, require
from api.routes import errors
from feedback_miner.adapters.followup_store import SqlFollowupReader
from feedback_miner.adapters.keys import ApiKey
from feedback_miner.services.followup import followup_list, to_csv

__all__ = ["FollowupOut", "ReporterOut", "router"]

router = APIRouter(prefix="/v1")
Lead = Annotated[ApiKey, Depends(require("lead"))]


class ReporterOut(BaseModel):
    customer_id: str | None = Field(description="As stored: redacted or pseudonymised where it held personal data; "
                                                "null when none was given (then the row is one ticket)")
    source: str = Field(description="Source of the latest report")
    external_id: str = Field(description="Ticket id of the latest report, as stored")
    first_reported_at: datetime
    last_reported_at: datetime
    reports: int = Field(ge=1)
    problem_weeks: list[str] = Field(description="ISO weeks the reports were counted in")
    tickets: list[str] = Field(description="source:external_id of every report, oldest first")
    reports_after_fix: int = Field(description="Reports made in weeks after the fix week (0 if not fixed)")


class FollowupOut(BaseModel):
    problem_id: str = Field(description="The surviving problem id (merge redirects followed)")
    requested_id: str
    title: str
    category: str
    fixed_week: str | None
    merged_ids: list[str] = Field(description="Problems merged into this one; their reporters are included")
    customers: int
    reports: int
    reporters: list[ReporterOut]


@router.get("/problems/{problem_id}/followup", response_model=FollowupOut, tags=["problems"],
            responses={200: {"content": {"text/csv": {}}}, **errors(401, 403, 404, 422)})
def get_followup(problem_id: Annotated[str, Path(max_length=64)], svc: Svc, _: Lead,
                 format: Annotated[Literal["json", "csv"], Query()] = "json") -> FollowupOut | Response:
    """The customers who reported a problem, to survey once it is fixed: one row per customer with
    their earliest and latest report, count, weeks and tickets. JSON (default) or CSV."""
    fl = followup_list(SqlFollowupReader(svc.store), problem_id)
    if format == "csv":
        return PlainTextResponse(to_csv(fl), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="followup-{fl.problem_id}.csv"'})
    return FollowupOut.model_validate(fl.to_dict())
