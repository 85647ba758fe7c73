"""Thin routes: parse, call one service method, return. Errors map in api/errors.py."""

from __future__ import annotations

from typing import Any

from api.schemas import ErrorOut

__all__ = ["errors"]


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the error codes a route can answer."""
    text = {401: "Missing or invalid API key", 403: "Key lacks the role", 404: "Not found", 409: "Conflict",
            413: "Body too large", 422: "Invalid input (names the field)",
            429: "Too many failed key checks from this client; wait Retry-After seconds",
            503: "Not configured / unavailable"}
    return {c: {"model": ErrorOut, "description": text.get(c, "Error")} for c in codes}
