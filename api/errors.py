"""The one place that maps errors to HTTP status codes and JSON bodies.

Every error response is ``{"error": <code>, "message": <text a person can act on>, "fields": [...]}``.
No stack trace ever leaves the server; unexpected errors are logged and answered with a bare 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from feedback_miner.errors import (
    AuthError,
    ConfigError,
    ConflictError,
    DeliveryError,
    FeedbackMinerError,
    InputError,
    ModelError,
    NotFoundError,
    PermissionDenied,
    RateLimited,
    StoreError,
)

__all__ = ["STATUS_OF", "BodyLimitMiddleware", "error_body", "install_error_handlers"]

log = logging.getLogger("feedback_miner.api")

#: Most specific first: the first matching class decides the status.
STATUS_OF: tuple[tuple[type[FeedbackMinerError], int, str], ...] = (
    (RateLimited, 429, "rate_limited"),
    (PermissionDenied, 403, "forbidden"),
    (AuthError, 401, "unauthorized"),
    (InputError, 422, "invalid_input"),
    (NotFoundError, 404, "not_found"),
    (ConflictError, 409, "conflict"),
    (ConfigError, 503, "not_configured"),
    (ModelError, 503, "model_unavailable"),
    (StoreError, 503, "store_unavailable"),
    (DeliveryError, 502, "delivery_failed"),
)
_HTTP_CODES = {400: "bad_request", 502: "delivery_failed", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
               422: "invalid_input", 429: "rate_limited", 503: "unavailable"}


def error_body(code: str, message: str, fields: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error": code, "message": message, "fields": fields or []}


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(x) for x in loc)


async def _domain(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FeedbackMinerError)
    for cls, status, code in STATUS_OF:
        if isinstance(exc, cls):
            field = getattr(exc, "field", None)  # RowError, webhooks.PayloadError: the field that was wrong
            fields = [{"field": field, "message": getattr(exc, "reason", str(exc))}] if field else []
            headers = {"WWW-Authenticate": 'ApiKey header="X-API-Key"'} if status == 401 else None
            if isinstance(exc, RateLimited):
                headers = {"Retry-After": str(exc.retry_after_s)}
            if status >= 500:
                log.warning("service unavailable: %s", exc)
            return JSONResponse(error_body(code, str(exc), fields), status_code=status, headers=headers)
    log.error("unmapped library error", exc_info=exc)
    return JSONResponse(error_body("internal_error", "the server failed to handle this request"), status_code=500)


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [{"field": _loc(e.get("loc", ())), "message": str(e.get("msg", "invalid"))} for e in exc.errors()]
    names = ", ".join(f["field"] for f in fields[:5]) or "request"
    return JSONResponse(error_body("invalid_input", f"invalid request: check {names}", fields), status_code=422)


async def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    msg = str(exc.detail)
    if exc.status_code == 404 and msg == "Not Found":
        msg = "no such route; see /docs for the API"
    return JSONResponse(error_body(code, msg), status_code=exc.status_code, headers=getattr(exc, "headers", None))


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    return JSONResponse(error_body("internal_error", "the server failed to handle this request"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Register every handler on ``app``."""
    app.add_exception_handler(FeedbackMinerError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)


class BodyLimitMiddleware:
    """Refuse request bodies larger than ``max_bytes`` with a JSON 413 (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _reject(self, send: Send) -> None:
        resp = JSONResponse(error_body("payload_too_large", f"request body exceeds {self.max_bytes} bytes"),
                            status_code=413)
        await send({"type": "http.response.start", "status": 413, "headers": resp.raw_headers})
        await send({"type": "http.response.body", "body": resp.body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await self._reject(send)
                    return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    raise StarletteHTTPException(413, f"request body exceeds {self.max_bytes} bytes")
            return msg

        await self.app(scope, limited_receive, send)

