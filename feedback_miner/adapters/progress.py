"""Progress bars on stderr (tqdm); silent when stderr is not a terminal unless forced."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["TqdmProgress"]


class TqdmProgress:
    def __init__(self, *, enabled: bool | None = None) -> None:
        self._enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: Any = None

    def start(self, description: str, total: int) -> None:
        self.finish()
        if self._enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=description, file=sys.stderr, leave=False)
        else:  # not a terminal (a log, CI): one line per step, no bar
            print(f"{description}: {total}…", file=sys.stderr, flush=True)

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
