"""The run lease from the service side: who owns a run, and a heartbeat while it works."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

__all__ = ["heartbeat_while", "run_owner"]


class _Beats(Protocol):
    def heartbeat(self, run_id: int) -> None: ...


def run_owner() -> str:
    """This process as a run owner: ``host:pid`` (the store can tell when that process is gone)."""
    return f"{socket.gethostname()}:{os.getpid()}"


@contextmanager
def heartbeat_while(store: _Beats, run_id: int, *, every_s: float = 10.0) -> Iterator[None]:
    """Beat the run's heartbeat every ``every_s`` seconds until the block ends."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every_s):
            try:
                store.heartbeat(run_id)
            except Exception:  # noqa: BLE001 - a missed beat must not kill the run; the next one retries
                continue

    th = threading.Thread(target=beat, name=f"run-{run_id}-heartbeat", daemon=True)
    th.start()
    try:
        yield
    finally:
        stop.set()
        th.join(timeout=every_s)
