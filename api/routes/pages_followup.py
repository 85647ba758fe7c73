"""The follow-up page of a problem (support leads): the customers to survey once it is fixed, the
same list as ``GET /v1/problems/{id}/followup`` and ``feedback-miner problems followup``, with a CSV
download. Session-authenticated like the other pages;
``api.routes.pages.install`` mounts this router."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import Svc
from api.routes.pages import SECURITY_HEADERS, domain_errors, render
from api.sessions import PageUser, page_role
from feedback_miner.adapters.followup_store import SqlFollowupReader
from feedback_miner.services.followup import followup_list, to_csv

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Lead = Annotated[PageUser, Depends(page_role("lead"))]
ProblemId = Annotated[str, Path(max_length=64)]


@router.get("/problems/{problem_id}/followup")
def followup_page(request: Request, problem_id: ProblemId, svc: Svc, user: Lead) -> Response:
    with domain_errors():
        fl = followup_list(SqlFollowupReader(svc.store), problem_id)
    if fl.problem_id != problem_id:
        return RedirectResponse(f"/problems/{fl.problem_id}/followup", status_code=303)
    return render(request, "followup.html", {"fl": fl}, user=user)


@router.get("/problems/{problem_id}/followup.csv")
def followup_csv(problem_id: ProblemId, svc: Svc, _: Lead) -> Response:
    with domain_errors():
        fl = followup_list(SqlFollowupReader(svc.store), problem_id)
    return Response(to_csv(fl), media_type="text/csv; charset=utf-8", headers={
        **SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="followup-{fl.problem_id}.csv"'})
