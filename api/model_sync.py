"""The classifier across worker processes: one model change at a time, and every worker serving the
promoted version.

``POST /v1/model/retrain`` and ``/v1/model/rollback`` run in whichever worker the request reaches
and change the shared models directory (``FM_MODELS_DIR/classifier``, its ``CURRENT`` file).

* :class:`ModelChangeLock` keeps them one at a time across the workers of a host: an in-process
  lock plus an exclusive ``flock`` on ``FM_MODELS_DIR/.model-change.lock`` (same interface as
  ``threading.Lock``: ``acquire(blocking=False)`` / ``release()``, ``with``).
* :class:`ServedClassifierSync` makes the other workers follow: before a request, at most every
  ``interval_s`` seconds, a worker whose served version is not the promoted one loads it
  (``Services.serve_current``). A pinned version (``FM_CLASSIFIER_VERSION``) or an injected
  classifier is left alone.
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from pathlib import Path
from typing import IO

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from api.services import Services
from feedback_miner.adapters.artefacts import current_version
from feedback_miner.errors import FeedbackMinerError

__all__ = ["ModelChangeLock", "ServedClassifierSync", "follow_promoted"]

log = logging.getLogger("feedback_miner.api")


class ModelChangeLock:
    """One retrain or rollback at a time in this process and in every other process on this host
    that shares the models directory."""

    def __init__(self, models_dir: Path) -> None:
        self.path = models_dir / ".model-change.lock"
        self._local = threading.Lock()
        self._fh: IO[bytes] | None = None

    def acquire(self, blocking: bool = True) -> bool:
        if not self._local.acquire(blocking):
            return False
        try:
            fh = open(self.path, "a+b")  # noqa: SIM115 - held until release()
        except OSError:
            # a read-only models dir: nothing can be retrained here anyway (the change itself fails
            # with its own error), so the in-process lock is enough
            return True
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            fh.close()
            self._local.release()
            return False
        self._fh = fh
        return True

    def release(self) -> None:
        fh, self._fh = self._fh, None
        if fh is not None:
            fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()
        self._local.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class ServedClassifierSync:
    """ASGI middleware: a worker notices within ``interval_s`` that another one promoted a classifier
    version, and serves it from its next request on."""

    def __init__(self, app: ASGIApp, interval_s: float = 2.0) -> None:
        self.app, self.interval_s = app, interval_s
        self._next = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and time.monotonic() >= self._next:
            self._next = time.monotonic() + self.interval_s  # set before awaiting: one check at a time
            svc = getattr(scope["app"].state, "services", None)
            if svc is not None:
                await run_in_threadpool(follow_promoted, svc)
        await self.app(scope, receive, send)


def follow_promoted(svc: Services) -> str | None:
    """Serve the promoted classifier version if it is not the one ``svc`` serves; the version now
    loaded, or None when nothing changed (pinned, injected, unreadable: keep serving what it has)."""
    if svc.classifier_version == "injected" or svc.settings.classifier_version:
        return None
    try:
        promoted = current_version(svc.settings.models_dir / "classifier")
    except FeedbackMinerError:
        return None
    if not promoted or promoted == svc.classifier_version:
        return None
    try:
        served = svc.serve_current()
    except FeedbackMinerError as exc:  # e.g. CURRENT read while another worker rewrote it
        log.warning("could not load the promoted classifier %s: %s", promoted, exc)
        return None
    log.info("now serving classifier %s (promoted by another process)", served)
    return served
