"""Security headers (the one place they are set) and the rate limit on failed logins.

Every response gets ``X-Content-Type-Options: nosniff``, ``Referrer-Policy`` and a
``Content-Security-Policy`` that loads nothing from another host:

* ``/v1/…`` (JSON, and the digest as Markdown or HTML): no script at all, no external resource;
  inline styles only (the HTML digest carries its own stylesheet).
* ``/docs`` and ``/redoc``: the API docs, served from this app (Swagger UI needs its inline start-up
  script, ReDoc a blob: worker).
* everything else (the pages): scripts and styles from this app only.

Headers a route sets itself are kept. Behind a reverse proxy, run uvicorn with ``--proxy-headers``
and ``--forwarded-allow-ips`` so :func:`client_address` sees the real client, not the proxy.
"""

from __future__ import annotations

import html

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body
from feedback_miner.adapters.ratelimit import FailureLimiter
from feedback_miner.errors import RateLimited

__all__ = [
    "API_CSP",
    "DOCS_CSP",
    "PAGE_CSP",
    "LoginRateLimitMiddleware",
    "SecurityHeadersMiddleware",
    "client_address",
    "csp_for",
]

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")
API_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'"
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; "
            "base-uri 'none'")
_DOCS = ("/docs", "/redoc", "/static-offline-docs/")


def csp_for(path: str) -> str:
    """The Content-Security-Policy of a path."""
    if path.startswith("/v1/") or path == "/openapi.json":
        return API_CSP
    if path.startswith(_DOCS):
        return DOCS_CSP
    return PAGE_CSP


def client_address(scope: Scope) -> str:
    """The client's address as the server sees it (the rate-limit bucket)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response (keeping any a route set)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        policy = csp_for(path)
        static = path.startswith(("/static/", "/static-offline-docs/"))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                h.setdefault("X-Content-Type-Options", "nosniff")
                h.setdefault("Referrer-Policy", "same-origin")
                h.setdefault("Content-Security-Policy", policy)
                if not static:
                    h.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)


def _refusal(scope: Scope, exc: RateLimited) -> Response:
    headers = {"Retry-After": str(exc.retry_after_s)}
    if "application/json" in Headers(scope=scope).get("accept", ""):
        return JSONResponse(error_body("rate_limited", str(exc)), status_code=429, headers=headers)
    body = (f"<!doctype html><html lang=en><meta charset=utf-8><title>Too many attempts</title>"
            f"<h1>Too many attempts</h1><p>{html.escape(str(exc))}</p><p><a href=\"/login\">Back to the login "
            f"page</a></p></html>")
    return HTMLResponse(body, status_code=429, headers=headers)


class LoginRateLimitMiddleware:
    """``POST /login``: refuse a blocked client with 429; count every refused key (a 401 answer)."""

    def __init__(self, app: ASGIApp, path: str = "/login") -> None:
        self.app, self.path = app, path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") != self.path:
            await self.app(scope, receive, send)
            return
        limiter: FailureLimiter | None = getattr(Request(scope).app.state, "auth_limiter", None)
        if limiter is None:  # before the lifespan ran
            await self.app(scope, receive, send)
            return
        client = client_address(scope)
        try:
            await run_in_threadpool(limiter.check, client)
        except RateLimited as exc:
            await _refusal(scope, exc)(scope, receive, send)
            return

        async def watch(message: Message) -> None:
            # the login page answers a wrong, revoked or malformed key with 401: count it before the
            # client sees the answer, so its next attempt is already judged with this one counted
            if message["type"] == "http.response.start" and message["status"] == 401:
                await run_in_threadpool(limiter.failed, client)
            await send(message)

        await self.app(scope, receive, watch)
