"""Server-rendered pages: login, digest, problem (with "mark fixed"), and the review page for leads.

Pages authenticate with the signed session cookie of api/sessions.py; reads use the same queries
as the API, writes call the same core functions and need the session's CSRF token. Errors are
answered with an HTML page (JSON when the request asks for it). Not part of the OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path as FsPath
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from api.auth import Svc
from api.errors import STATUS_OF, error_body
from api.routes.pages_view import CONCENTRATION, breakdown_rows, fix_status, headline_metrics, tile_label, tile_state
from api.schemas import Category as CategoryLit
from api.sessions import (
    LoginRequired,
    PageError,
    PageUser,
    SessionSigner,
    check_csrf,
    check_login_token,
    current_user,
    end_session,
    login_token,
    page_role,
    set_login_token,
    start_session,
)
from feedback_miner.adapters import charts, queries
from feedback_miner.adapters.followup_store import SqlFollowupReader
from feedback_miner.adapters.keys import verify_key
from feedback_miner.adapters.registry_store import mark_fixed, rename, resolve_id
from feedback_miner.adapters.render import render_digest
from feedback_miner.adapters.review_store import confirm, review_progress
from feedback_miner.domain.format import metric_value
from feedback_miner.domain.types import CATEGORY_IDS, Category
from feedback_miner.domain.weeks import WEEK_PATTERN, weeks_between
from feedback_miner.errors import AuthError, FeedbackMinerError
from feedback_miner.services.followup import followup_list
from feedback_miner.services.review import confirm_many

__all__ = ["install", "router"]

router = APIRouter(include_in_schema=False)
Viewer = Annotated[PageUser, Depends(page_role("reader", "lead"))]
Lead = Annotated[PageUser, Depends(page_role("lead"))]
WeekPath = Annotated[str, Path(pattern=WEEK_PATTERN)]
WeekQ = Annotated[str | None, Query(pattern=WEEK_PATTERN)]
Csrf = Annotated[str | None, Form(max_length=200)]
WeekF = Annotated[str, Form(pattern=r"^(\d{4}-W\d{2})?$")]  # the review page's filters, kept across a post
CategoryF = Annotated[str, Form(max_length=32)]
SourceF = Annotated[str, Form(max_length=64)]
HERE = FsPath(__file__).resolve().parent.parent
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
}


def _metric(m: Mapping[str, Any]) -> str:
    """A digest metric's value as the table shows it (its note when there were too few answers)."""
    if m.get("value") is None:
        return "—"
    if not m.get("enough"):
        return str(m.get("note") or "not enough answers")
    return metric_value(m["value"], m.get("unit"))


class _Charts:
    """The one chart implementation (``adapters.charts``) for the templates, as safe markup."""

    labels: ClassVar[dict[str, str]] = {c.value: c.label for c in Category}

    @classmethod
    def bars(cls, data: Mapping[str, int], title: str, categories: bool = False) -> Markup:
        return Markup(charts.bars(data, title, cls.labels if categories else None))

    @staticmethod
    def spark(counts: Mapping[str, int]) -> Markup:
        return Markup(charts.spark(counts))

    @staticmethod
    def weeks_chart(counts: Mapping[str, int], title: str) -> Markup:
        return Markup(charts.weeks_chart(counts, title))


def install(app: FastAPI) -> None:
    """Templates, static files, the session signer and the page error handler, on ``app``."""
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters.update(metric=_metric, fmt_unit=metric_value,
                                 fmt_change=lambda v, u: metric_value(v, u, change=True))
    templates.env.globals["charts"] = _Charts
    templates.env.globals["LABELS"] = {c.value: c.label for c in Category}
    templates.env.globals["CATEGORIES"] = CATEGORY_IDS
    templates.env.globals.update(headline=headline_metrics, tile_state=tile_state, tile_label=tile_label,
                                 breakdown_rows=breakdown_rows, CONCENTRATION=CONCENTRATION)
    app.state.templates = templates
    app.state.sessions = SessionSigner.from_settings(app.state.settings)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_exception_handler(PageError, _page_error)
    app.include_router(router)
    from api.routes import pages_followup  # it imports this module's helpers

    app.include_router(pages_followup.router)


def render(request: Request, name: str, ctx: dict[str, Any], *, user: PageUser | None, status: int = 200) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    resp = templates.TemplateResponse(request, name, {**ctx, "user": user}, status_code=status)
    resp.headers.update(SECURITY_HEADERS)
    return resp


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    if isinstance(exc, LoginRequired) and request.method == "GET" and not _wants_json(request):
        return RedirectResponse("/login?" + urlencode({"next": exc.next_path}), status_code=303)
    if _wants_json(request):
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found"}.get(exc.status, "invalid_input")
        return JSONResponse(error_body(code, exc.message), status_code=exc.status)
    user = None if isinstance(exc, LoginRequired) else await run_in_threadpool(current_user, request)
    return render(request, "error.html", {"title": exc.title, "message": exc.message, "status": exc.status},
                  user=user, status=exc.status)


@contextmanager
def domain_errors() -> Iterator[None]:
    """Library errors → page errors with the API's status codes."""
    try:
        yield
    except FeedbackMinerError as exc:
        status = next((s for cls, s, _ in STATUS_OF if isinstance(exc, cls)), 500)
        raise PageError(status, str(exc)) from exc


def _safe_next(path: str | None) -> str:
    ok = path and path.startswith("/") and not path.startswith("//") and "\\" not in path
    return path if ok else "/"  # type: ignore[return-value]


def _digest_weeks(svc: Svc) -> list[str]:
    return [p for p in svc.store.digest_periods() if "-W" in p]


# -- login --------------------------------------------------------------------------------------

@router.get("/login")
def login_page(request: Request, next: Annotated[str, Query(max_length=500)] = "/") -> Response:
    if current_user(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    token = login_token(request)
    resp = render(request, "login.html", {"next": _safe_next(next), "token": token, "error": None}, user=None)
    set_login_token(request, resp, token)
    return resp


@router.post("/login")
def login(request: Request, svc: Svc, api_key: Annotated[str, Form(max_length=300)], csrf: Csrf = None,
          next: Annotated[str, Form(max_length=500)] = "/") -> Response:
    check_login_token(request, csrf)
    try:
        key = verify_key(svc.store, api_key.strip())
    except AuthError as exc:
        token = login_token(request)
        resp = render(request, "login.html", {"next": _safe_next(next), "token": token, "error": str(exc)},
                      user=None, status=401)
        set_login_token(request, resp, token)
        return resp
    resp = RedirectResponse(_safe_next(next), status_code=303)
    start_session(request, resp, key.id)
    return resp


@router.post("/logout")
def logout(request: Request, csrf: Csrf = None) -> Response:
    user = current_user(request)
    if user is not None:
        check_csrf(user, csrf)
    resp = RedirectResponse("/login", status_code=303)
    end_session(resp)
    return resp


# -- digest and problems -------------------------------------------------------------------------

@router.get("/")
def home(request: Request, svc: Svc, user: Viewer) -> Response:
    weeks = _digest_weeks(svc)
    if weeks:
        return RedirectResponse(f"/digest/{weeks[-1]}", status_code=303)
    return render(request, "digest.html", {"d": None, "weeks": [], "week": None}, user=user)


@router.get("/digest/{week}")
def digest_page(request: Request, week: WeekPath, svc: Svc, user: Viewer) -> Response:
    with domain_errors():
        d = svc.get_digest(week)
    return render(request, "digest.html", {"d": d.to_dict(), "weeks": _digest_weeks(svc)[-12:], "week": week},
                  user=user)


@router.get("/digest/{week}/export")
def digest_export(week: WeekPath, svc: Svc, _: Viewer,
                  format: Annotated[Literal["md", "html", "json"], Query()] = "md") -> Response:
    with domain_errors():
        text = render_digest(svc.get_digest(week), format)
    media = {"md": "text/markdown", "html": "text/html", "json": "application/json"}[format]
    # the self-contained HTML digest carries inline styles: allow those, nothing else, in a sandbox
    return Response(text, media_type=f"{media}; charset=utf-8", headers={
        "Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'{"inline" if format == "html" else "attachment"}; filename="digest-{week}.{format}"'})


@router.get("/problems/{problem_id}")
def problem_page(request: Request, problem_id: Annotated[str, Path(max_length=64)], svc: Svc, user: Viewer,
                 done: Annotated[Literal["fixed", "renamed"] | None, Query()] = None) -> Response:
    with domain_errors():
        pid = resolve_id(svc.store, problem_id)
        if pid != problem_id:
            return RedirectResponse(f"/problems/{pid}", status_code=303)
        p = queries.problem_detail(svc.store, pid)
    counts = p["weekly_counts"]
    weeks = weeks_between(min(counts), max(counts)) if counts else []
    digests = _digest_weeks(svc)
    watch = fix_status([svc.get_digest(digests[-1]).to_dict()], pid) if p["fixed_week"] and digests else None
    reporters = len(followup_list(SqlFollowupReader(svc.store), pid).reporters) if user.can("lead") else None
    return render(request, "problem.html", {
        "p": p, "counts": {w: counts.get(w, 0) for w in weeks[-26:]}, "done": done, "watch": watch,
        "reporters": reporters, "default_week": digests[-1] if digests else p["last_week"]}, user=user)


@router.post("/problems/{problem_id}/fix")
def problem_fix(problem_id: Annotated[str, Path(max_length=64)], svc: Svc, user: Lead, csrf: Csrf = None,
                week: Annotated[str, Form(pattern=WEEK_PATTERN)] = "",
                link: Annotated[str, Form(max_length=500)] = "") -> Response:
    check_csrf(user, csrf)
    link = link.strip()
    if link and not link.startswith(("https://", "http://")):
        raise PageError(422, "link: must be an http(s) address", "Check the form")
    with domain_errors():
        pid = mark_fixed(svc.store, problem_id, week=week, by=user.name, link=link or None)
    return RedirectResponse(f"/problems/{pid}?done=fixed", status_code=303)


@router.post("/problems/{problem_id}/rename")
def problem_rename(problem_id: Annotated[str, Path(max_length=64)], svc: Svc, user: Lead, csrf: Csrf = None,
                   title: Annotated[str, Form(max_length=300)] = "") -> Response:
    check_csrf(user, csrf)
    with domain_errors():
        pid = rename(svc.store, problem_id, title, by=user.name)
    return RedirectResponse(f"/problems/{pid}?done=renamed", status_code=303)


# -- review ------------------------------------------------------------------------------------

def _review_url(week: str | None, category: str | None, source: str | None, **extra: object) -> str:
    q = {k: v for k, v in {"week": week, "category": category, "source": source, **extra}.items() if v}
    return "/review" + (f"?{urlencode(q)}" if q else "")


@router.get("/review")
def review_page(request: Request, svc: Svc, user: Lead, week: WeekQ = None,
                category: Annotated[CategoryLit | None, Query()] = None,
                source: Annotated[str | None, Query(max_length=64)] = None,
                view: Annotated[Literal["card", "table"], Query()] = "card",
                done: Annotated[int | None, Query(ge=0, le=500)] = None) -> Response:
    with domain_errors():
        ov = queries.review_overview(svc.store, week=week, category=category, source=source or None, limit=50)
    filters = queries.review_filters(svc.store)
    links = {v: _review_url(ov["week"], category, source, view=v) for v in ("card", "table")}
    return render(request, "review.html", {"ov": ov, "filters": filters, "view": view, "done": done, "links": links,
                                           "category": category, "source": source}, user=user)


@router.post("/review/confirm")
def review_confirm(request: Request, svc: Svc, user: Lead, feedback_id: Annotated[int, Form(ge=1, le=2**62)],
                   category: Annotated[CategoryLit, Form()], csrf: Csrf = None,
                   secondary_category: Annotated[str, Form(max_length=32)] = "",
                   week: WeekF = "", filter_category: CategoryF = "", source: SourceF = "") -> Response:
    check_csrf(user, csrf)
    with domain_errors():
        result = confirm(svc.store, feedback_id, category=category, secondary=secondary_category or None,
                         reviewer=user.name)
        progress = review_progress(svc.store, week) if week else None
    if _wants_json(request):
        return JSONResponse({"result": result, "progress": progress})
    return RedirectResponse(_review_url(week, filter_category, source), status_code=303)


@router.post("/review/bulk")
def review_bulk(request: Request, svc: Svc, user: Lead, csrf: Csrf = None,
                ids: Annotated[list[int], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
                choice: Annotated[list[str], Form()] = [],  # noqa: B006
                week: WeekF = "", filter_category: CategoryF = "", source: SourceF = "") -> Response:
    """Confirm the ticked rows of the table, each with the category chosen in its row."""
    check_csrf(user, csrf)
    chosen = dict(c.split(":", 1) for c in choice[:1000] if ":" in c)
    if any(not 1 <= i <= 2**62 for i in ids):
        raise PageError(422, "A feedback id is out of range (1 to 2^62)", "Check the selection")
    picked = [(i, chosen.get(str(i), ""), None) for i in ids]
    bad = [str(i) for i, c, _ in picked if c not in CATEGORY_IDS]
    if not picked or len(picked) > 500 or bad:
        why = f" (none for item {', '.join(bad[:5])})" if bad else "."
        raise PageError(422, "Tick 1–500 rows, each with a category" + why, "Check the selection")
    with domain_errors():
        out = confirm_many(partial(confirm, svc.store), picked, reviewer=user.name)
    n = out["counts"]["confirmed"] + out["counts"]["corrected"]
    if _wants_json(request):
        return JSONResponse(out)
    return RedirectResponse(_review_url(week, filter_category, source, view="table", done=n), status_code=303)
