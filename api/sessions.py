"""Signed session cookies for the pages: log in once with an API key, then browse with a cookie.

The cookie holds ``{key id, CSRF token, issued at}`` signed with HMAC-SHA256 — never the key
itself. Every request re-reads the key's record, so revoking a key ends its sessions at once. The
signing key is ``FM_SESSION_SECRET`` or, unset, one generated once and kept in the store, so every
worker process of ``serve --workers N`` accepts the sessions of the others.
Cookies are HttpOnly and SameSite=Lax (and Secure when served over https). Page writes also need
the session's CSRF token, sent in a hidden form field. The session cookie authenticates the pages
only: the ``/v1`` API still needs the key in a header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from feedback_miner.adapters import queries
from feedback_miner.adapters.app_secrets import shared_secret
from feedback_miner.adapters.store import Store
from feedback_miner.config import Settings
from feedback_miner.errors import ConfigError

__all__ = [
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "LoginRequired",
    "PageError",
    "PageUser",
    "SessionSigner",
    "check_csrf",
    "check_login_token",
    "current_user",
    "end_session",
    "login_token",
    "page_role",
    "set_login_token",
    "start_session",
]

SESSION_COOKIE = "fm_session"
LOGIN_COOKIE = "fm_login"  # double-submit token of the login form (there is no session yet)
MAX_AGE_S = 12 * 3600
SESSION_SECRET_NAME = "page-sessions"  # its row in app_secrets when FM_SESSION_SECRET is unset


@dataclass(frozen=True)
class PageUser:
    """Who is browsing: the key's name and role, and the session's CSRF token."""

    key_id: int
    name: str
    role: str
    csrf: str

    def can(self, *roles: str) -> bool:
        return self.role == "admin" or self.role in roles


class PageError(Exception):
    """An error a page answers with an HTML error page (or JSON when the client asks for it)."""

    def __init__(self, status: int, message: str, title: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.title = title or {401: "Please log in", 403: "Not allowed", 404: "Not found"}.get(status, "Error")


class LoginRequired(PageError):
    """No valid session: GET pages redirect to /login, other requests get 401."""

    def __init__(self, next_path: str) -> None:
        super().__init__(401, "Log in with your API key to continue.")
        self.next_path = next_path


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Signs and verifies session payloads (HMAC-SHA256 over base64url JSON) with an expiry."""

    def __init__(self, secret: bytes, *, max_age_s: int = MAX_AGE_S) -> None:
        if len(secret) < 16:
            raise ConfigError(f"FM_SESSION_SECRET must be at least 16 bytes, got {len(secret)}")
        self._secret, self.max_age_s = secret, max_age_s

    @classmethod
    def from_settings(cls, settings: Settings, store: Store | None = None) -> SessionSigner:
        """``FM_SESSION_SECRET`` when set; else the store's generated session key, the same in every
        worker process (and across restarts); with neither (an app not yet started), a random one."""
        configured = getattr(settings, "session_secret", None)
        if configured:
            return cls(str(configured).encode("utf-8"))
        if store is not None:
            return cls(shared_secret(store, SESSION_SECRET_NAME))
        # Never a fixed default. The app's lifespan replaces this signer with the store's before the
        # first request, so a per-process secret never signs a session of a running server.
        return cls(secrets.token_bytes(32))

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode("ascii"), hashlib.sha256).digest())

    def sign(self, payload: dict[str, Any]) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
        return f"{body}.{self._mac(body)}"

    def unsign(self, token: str | None) -> dict[str, Any] | None:
        """The payload if the signature is valid and it has not expired, else None."""
        if not token or token.count(".") != 1 or len(token) > 4096:
            return None
        body, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            data = json.loads(_unb64(body))
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("iat"), int):
            return None
        return data if 0 <= time.time() - data["iat"] <= self.max_age_s else None


def current_user(request: Request) -> PageUser | None:
    """The user of a valid session whose key still exists and is not revoked."""
    data = request.app.state.sessions.unsign(request.cookies.get(SESSION_COOKIE))
    if data is None or not isinstance(data.get("kid"), int) or not isinstance(data.get("csrf"), str):
        return None
    rec = queries.api_key_by_id(request.app.state.services.store, data["kid"])
    if rec is None or rec["revoked"]:
        return None
    return PageUser(int(rec["id"]), str(rec["name"]), str(rec["role"]), data["csrf"])


def page_role(*roles: str) -> Callable[[Request], PageUser]:
    """A dependency admitting a session whose key has one of ``roles`` (or admin)."""
    allowed = " or ".join(sorted(set(roles) | {"admin"}))

    def check(request: Request) -> PageUser:
        user = current_user(request)
        if user is None:
            raise LoginRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        if not user.can(*roles):
            raise PageError(403, f"This needs the {allowed} role; you are signed in as {user.name!r} "
                                 f"with role {user.role!r}.")
        return user

    return check


def check_csrf(user: PageUser, token: str | None) -> None:
    if not token or not hmac.compare_digest(token.encode("utf-8", "replace"), user.csrf.encode("utf-8")):
        raise PageError(403, "The form's security token is missing or out of date; reload the page and try again.")


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def start_session(request: Request, response: Response, key_id: int) -> None:
    """Set a fresh session cookie (a new CSRF token each login) and drop the login token."""
    token = request.app.state.sessions.sign({"kid": key_id, "csrf": secrets.token_urlsafe(32), "iat": int(time.time())})
    response.set_cookie(SESSION_COOKIE, token, max_age=MAX_AGE_S, path="/", httponly=True, samesite="lax",
                        secure=_secure(request))
    response.delete_cookie(LOGIN_COOKIE, path="/login")


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def login_token(request: Request) -> str:
    """The login form's token: the browser's (double-submit CSRF, as there is no session yet) or a new one."""
    token = request.cookies.get(LOGIN_COOKIE)
    return token if token and 20 <= len(token) <= 100 else secrets.token_urlsafe(24)


def set_login_token(request: Request, response: Response, token: str) -> None:
    response.set_cookie(LOGIN_COOKIE, token, max_age=3600, path="/login", httponly=True, samesite="strict",
                        secure=_secure(request))


def check_login_token(request: Request, token: str | None) -> None:
    cookie = request.cookies.get(LOGIN_COOKIE)
    if not cookie or not token or not hmac.compare_digest(cookie.encode("utf-8", "replace"),
                                                          token.encode("utf-8", "replace")):
        raise PageError(403, "The login form expired or cookies are blocked; reload the login page and try again.")
