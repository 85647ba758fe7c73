"""API-key authentication and role checks (FastAPI dependencies).

Keys travel in ``X-API-Key`` or ``Authorization: Bearer <key>``. Missing or invalid → 401; a
valid key without the role → 403. ``admin`` may do everything. There is no default key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.services import Services
from feedback_miner.adapters.keys import ApiKey
from feedback_miner.errors import AuthError, PermissionDenied

__all__ = ["get_services", "require", "Svc"]

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key: `feedback-miner keys create`")
_bearer = HTTPBearer(auto_error=False, description="The same API key as a bearer token")


def get_services(request: Request) -> Services:
    """The app's :class:`Services`, created by the lifespan."""
    svc: Services = request.app.state.services
    return svc


Svc = Annotated[Services, Depends(get_services)]


def require(*roles: str) -> Callable[..., ApiKey]:
    """A dependency that admits a key with one of ``roles`` (or ``admin``)."""
    allowed = set(roles) | {"admin"}

    def check(svc: Svc, key: Annotated[str | None, Depends(_api_key)] = None,
              bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None) -> ApiKey:
        given = key or (bearer.credentials if bearer else None)
        if not given:
            raise AuthError("missing API key: send it in the X-API-Key header or as Authorization: Bearer <key>")
        found = svc.keys.verify(given.strip())
        if found.role not in allowed:
            raise PermissionDenied(f"this key has role {found.role!r}; this endpoint needs {' or '.join(sorted(allowed))}")
        return found

    return check
