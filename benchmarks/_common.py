"""Helpers shared by the benchmark scripts: a timestamped log, a CSV reader, a free port, a percentile."""

from __future__ import annotations

import csv
import socket
import sys
import time
from pathlib import Path

T0 = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:7.1f}s] {msg}", flush=True)


def read_csv(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for a server the benchmark starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(xs: list[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile of ``xs`` (NaN when empty)."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q / 100 * len(xs)) - 1))] if xs else float("nan")
