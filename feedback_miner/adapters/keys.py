"""API keys: create, verify, list, revoke, and the verified-key cache.

A key looks like ``fm_<prefix>_<secret>``. Only ``sha256(key)`` is stored (table ``api_keys``),
with the prefix in clear so verification looks up one or two rows by prefix and compares hashes
in constant time. The plain key is returned once, at creation, and never again.

:class:`KeyCache` remembers verified keys for ``ttl_s`` seconds so a request need not hit the store.
Revocation ends a key at once in the process that revoked it (every cache of the process is
invalidated) and within ``ttl_s`` in every other process. The API builds its cache with
``Settings.key_cache_ttl_s``, 0 by default: every request then reads the key from the store, so a
revocation holds at once in every worker process.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from feedback_miner.adapters import tables as t
from feedback_miner.adapters.store import Store
from feedback_miner.errors import AuthError, InputError, NotFoundError

__all__ = [
    "KEY_CACHE_TTL_S",
    "ROLES",
    "ApiKey",
    "KeyCache",
    "create_key",
    "hash_key",
    "list_keys",
    "revoke_key",
    "verify_key",
]

#: Roles, from least to most trusted; ``admin`` may do everything.
ROLES: tuple[str, ...] = ("ingest", "lead", "reader", "admin")
_PREFIX_LEN = 8
#: The longest a revoked key keeps working in a process other than the one that revoked it.
KEY_CACHE_TTL_S = 5.0
_revocations = itertools.count(1)  # bumped by revoke_key: caches of this process drop everything
_revocation_gen = 0


@dataclass(frozen=True)
class ApiKey:
    """A stored key (never its secret)."""

    id: int
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked: bool


def hash_key(key: str) -> str:
    """Hex sha256 of the full key string."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _row(r: object) -> ApiKey:
    m = dict(r)  # type: ignore[call-overload]
    return ApiKey(int(m["id"]), m["name"], m["role"], m["prefix"], m["created_at"], bool(m["revoked"]))


def create_key(store: Store, *, role: str, name: str) -> tuple[str, ApiKey]:
    """Create a key with ``role``; return (plain key — show it once, stored record)."""
    if role not in ROLES:
        raise InputError(f"role {role!r} is not one of {', '.join(ROLES)}")
    name = " ".join(name.split())
    if not name or len(name) > 128:
        raise InputError("name must be 1–128 characters")
    prefix = secrets.token_hex(_PREFIX_LEN // 2)
    key = f"fm_{prefix}_{secrets.token_urlsafe(32)}"
    now = datetime.now(UTC)
    with store.tx() as c:
        pk = c.execute(t.api_keys.insert().values(name=name, role=role, prefix=prefix, key_hash=hash_key(key),
                                                  created_at=now, revoked=False)).inserted_primary_key
    assert pk is not None
    return key, ApiKey(int(pk[0]), name, role, prefix, now, False)


def verify_key(store: Store, key: str) -> ApiKey:
    """The record of a valid, unrevoked key; raise :class:`AuthError` otherwise."""
    parts = key.split("_")
    if len(parts) < 3 or parts[0] != "fm" or len(parts[1]) != _PREFIX_LEN or len(key) > 200:
        raise AuthError("the API key is malformed; keys look like fm_<prefix>_<secret>")
    digest = hash_key(key)
    with store.tx() as c:
        rows = c.execute(select(t.api_keys).where(t.api_keys.c.prefix == parts[1])).mappings().all()
    for r in rows:
        if hmac.compare_digest(str(r["key_hash"]), digest):
            if r["revoked"]:
                raise AuthError("this API key has been revoked")
            return _row(r)
    raise AuthError("the API key is not valid")


def list_keys(store: Store) -> list[ApiKey]:
    """Every key, newest first (no secrets)."""
    with store.tx() as c:
        return [_row(r) for r in c.execute(select(t.api_keys).order_by(t.api_keys.c.id.desc())).mappings()]


def revoke_key(store: Store, key_id_or_prefix: str) -> ApiKey:
    """Revoke a key by its prefix or by numeric id (a prefix is hex, so it may be all digits: it is
    tried first, and only an id that no prefix matches is taken as an id)."""
    with store.tx() as c:
        rows = c.execute(select(t.api_keys).where(t.api_keys.c.prefix == key_id_or_prefix)).mappings().all()
        if not rows and key_id_or_prefix.isdigit() and int(key_id_or_prefix) < 2**62:
            rows = c.execute(select(t.api_keys).where(t.api_keys.c.id == int(key_id_or_prefix))).mappings().all()
        if len(rows) != 1:
            raise NotFoundError(f"no single API key with id or prefix {key_id_or_prefix!r}")
        c.execute(t.api_keys.update().where(t.api_keys.c.id == rows[0]["id"]).values(revoked=True))
    global _revocation_gen
    _revocation_gen = next(_revocations)
    return _row({**rows[0], "revoked": True})


class KeyCache:
    """Verified keys for at most ``ttl_s`` seconds, keyed by the key's sha256 (never the key itself).

    A wrong key is never cached. Any :func:`revoke_key` in this process empties every cache at once.
    """

    def __init__(self, store: Store, *, ttl_s: float = KEY_CACHE_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.ttl_s, self._clock = store, ttl_s, clock
        self._seen: dict[str, tuple[float, ApiKey]] = {}
        self._gen = _revocation_gen
        self._lock = threading.Lock()

    def cached(self, key: str) -> ApiKey | None:
        """The key's record if it was verified less than ``ttl_s`` ago and nothing was revoked since."""
        h, now = hash_key(key), self._clock()
        with self._lock:
            if self._gen != _revocation_gen:
                self._seen.clear()
                self._gen = _revocation_gen
            hit = self._seen.get(h)
        return hit[1] if hit is not None and now - hit[0] < self.ttl_s else None

    def verify(self, key: str) -> ApiKey:
        """:func:`verify_key`, answered from the cache when fresh; :class:`AuthError` if not valid."""
        found = self.cached(key)
        if found is not None:
            return found
        gen = _revocation_gen
        found = verify_key(self.store, key)
        with self._lock:
            if gen == _revocation_gen:  # a revocation while verifying: do not cache a possibly stale answer
                if len(self._seen) > 10_000:
                    self._seen.clear()
                self._seen[hash_key(key)] = (self._clock(), found)
        return found

    def forget(self) -> None:
        with self._lock:
            self._seen.clear()
