"""Start the real server (``feedback-miner serve``: uvicorn, real model, SQLite file) in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = ["free_port", "live_server"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(db_url: str, *, env: Mapping[str, str] | None = None, timeout: float = 180,
                log: Path | None = None) -> Iterator[str]:
    """Yield the base URL of a freshly started server once /readyz answers 200; stop it after."""
    port = free_port()
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **(env or {})}
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - the server writes to it until stopped
    proc = subprocess.Popen([sys.executable, "-m", "feedback_miner.cli", "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--db", db_url], env=full_env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode} before it was ready")
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > end:
                raise RuntimeError("server not ready in time")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()  # type: ignore[union-attr]
