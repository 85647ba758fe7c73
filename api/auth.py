"""API-key authentication and role checks (FastAPI dependencies).

Keys travel in ``X-API-Key`` or ``Authorization: Bearer <key>``. Missing or invalid → 401; a
valid key without the role → 403; a client with too many failed key checks → 429 with
``Retry-After`` (see :mod:`feedback_miner.adapters.ratelimit`). ``admin`` may do everything.
There is no default key. Each request checks the key in the store (``FM_KEY_CACHE_TTL_S`` = 0, the
default), so a key revoked anywhere is refused at once by every worker process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.security import client_address
from api.services import Services
from feedback_miner.adapters.keys import ApiKey, KeyCache
from feedback_miner.adapters.ratelimit import FailureLimiter
from feedback_miner.errors import AuthError, PermissionDenied

__all__ = ["Svc", "check_key", "get_services", "require", "require_unless_signed"]

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key: `feedback-miner keys create`")
_bearer = HTTPBearer(auto_error=False, description="The same API key as a bearer token")


def get_services(request: Request) -> Services:
    """The app's :class:`Services`, created by the lifespan."""
    svc: Services = request.app.state.services
    return svc


Svc = Annotated[Services, Depends(get_services)]


def check_key(cache: KeyCache, limiter: FailureLimiter, client: str, given: str) -> ApiKey:
    """The key's record; :class:`AuthError` (counted against ``client``) or :class:`RateLimited`.

    The block is read from the store on every request, so a client blocked through one worker is
    refused by every worker, whatever key it sends."""
    limiter.check_local(client)
    limiter.check(client)
    try:
        return cache.verify(given)
    except AuthError:
        limiter.failed(client)
        raise


def require(*roles: str) -> Callable[..., ApiKey]:
    """A dependency that admits a key with one of ``roles`` (or ``admin``)."""
    allowed = set(roles) | {"admin"}

    def check(request: Request, key: Annotated[str | None, Depends(_api_key)] = None,
              bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None) -> ApiKey:
        given = key or (bearer.credentials if bearer else None)
        if not given or not given.strip():
            raise AuthError("missing API key: send it in the X-API-Key header or as Authorization: Bearer <key>")
        state = request.app.state
        found = check_key(state.key_cache, state.auth_limiter, client_address(request.scope), given.strip())
        if found.role not in allowed:
            need = " or ".join(sorted(allowed))
            raise PermissionDenied(f"this key has role {found.role!r}; this endpoint needs {need}")
        return found

    return check


def require_unless_signed(signature_header: str, *roles: str) -> Callable[..., ApiKey | None]:
    """Like :func:`require`, but a request that sends no key and carries ``signature_header`` passes
    with None: the route must then verify that signature (for tools that sign but cannot send headers)."""
    keyed = require(*roles)

    def check(request: Request, key: Annotated[str | None, Depends(_api_key)] = None,
              bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None) -> ApiKey | None:
        if not key and bearer is None and request.headers.get(signature_header):
            return None
        return keyed(request, key, bearer)

    return check
