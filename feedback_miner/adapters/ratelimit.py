"""Failed key checks per client, counted in the store so the limit holds across worker processes.

A client (its address) with :data:`MAX_FAILURES` failed API-key checks or logins within one
:data:`WINDOW_S`-second window is refused until that window ends (HTTP 429 with ``Retry-After``).
Only failures are written. :meth:`FailureLimiter.check` reads the store on every call, so a block
counted by one worker process holds in every other at once; :meth:`FailureLimiter.check_local` is
only a shortcut that refuses, without a store read, a client this process already saw blocked
(nothing lifts a block early, so that memo can never disagree with the store).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from feedback_miner.adapters import tables as t
from feedback_miner.adapters.store import Store
from feedback_miner.errors import RateLimited

__all__ = ["MAX_FAILURES", "WINDOW_S", "FailureLimiter"]

MAX_FAILURES = 10
WINDOW_S = 60


class FailureLimiter:
    """Counts failures per client in fixed windows (table ``auth_failures``) and refuses blocked clients."""

    def __init__(self, store: Store, *, max_failures: int = MAX_FAILURES, window_s: int = WINDOW_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.max_failures, self.window_s, self._clock = store, max_failures, window_s, clock
        self._blocked: dict[str, float] = {}  # client → blocked until (this process's memo of the store)
        self._lock = threading.Lock()

    def _refuse(self, until: float) -> RateLimited:
        wait = int(until - self._clock()) + 1
        return RateLimited(wait, f"too many failed API key checks from this client ({self.max_failures} within "
                                 f"{self.window_s} s); try again in {wait} s")

    def check_local(self, client: str) -> None:
        """Raise :class:`RateLimited` if this process knows the client is blocked (no store access)."""
        with self._lock:
            until = self._blocked.get(client[:200])
        if until is not None and until > self._clock():
            raise self._refuse(until)

    def check(self, client: str) -> None:
        """Raise :class:`RateLimited` if the client is blocked (asks the store)."""
        self.check_local(client)
        f = t.auth_failures
        with self.store.tx() as c:
            row = c.execute(select(f.c.window_start, f.c.failures).where(f.c.bucket == client[:200])).first()
        if row is not None and row.failures >= self.max_failures and row.window_start + self.window_s > self._clock():
            self._remember(client, row.window_start + self.window_s)
            raise self._refuse(row.window_start + self.window_s)

    def _remember(self, client: str, until: float) -> None:
        with self._lock:
            if len(self._blocked) > 10_000:
                self._blocked.clear()
            self._blocked[client[:200]] = until

    def failed(self, client: str) -> None:
        """Count one failure for the client (atomic across processes)."""
        b, now, f = client[:200], self._clock(), t.auth_failures
        with self.store.tx() as c:
            fresh = f.c.window_start > now - self.window_s
            if not c.execute(f.update().where(f.c.bucket == b, fresh).values(failures=f.c.failures + 1)).rowcount:
                if not c.execute(f.update().where(f.c.bucket == b).values(window_start=now, failures=1)).rowcount:
                    try:
                        with c.begin_nested():
                            c.execute(f.insert().values(bucket=b, window_start=now, failures=1))
                    except IntegrityError:  # another process inserted it meanwhile
                        c.execute(f.update().where(f.c.bucket == b).values(failures=f.c.failures + 1))
                c.execute(f.delete().where(f.c.window_start < now - 10 * self.window_s))
            row = c.execute(select(f.c.window_start, f.c.failures).where(f.c.bucket == b)).one()
        if row.failures >= self.max_failures:
            self._remember(b, row.window_start + self.window_s)
