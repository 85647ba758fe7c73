"""numba's on-disk cache for the clustering libraries: compile UMAP's functions once per machine, not per process.

UMAP and pynndescent compile about forty numba functions the first time a process clusters; most
are not marked ``cache=True``, so every ``feedback-miner analyze`` / ``run`` paid about 7 s of CPU
compiling the same code again (docs/PERFORMANCE.md). :func:`enable_jit_cache` must run before
``umap`` or ``pynndescent`` is imported. It points ``NUMBA_CACHE_DIR`` at a writable per-user
directory (unless already set) and has ``numba.njit`` / ``numba.jit`` default to ``cache=True``
while those two packages are imported. Compiled code then lands in that directory and the next
process loads it. numba keys each entry by the function's source file, its bytecode, the argument
types and the CPU, so an upgraded library or another machine compiles afresh. The results are
identical: the same machine code runs, loaded instead of rebuilt.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from feedback_miner.errors import ConfigError

__all__ = ["default_cache_dir", "enable_jit_cache", "jit_cache_enabled"]

_PACKAGES = ("umap", "pynndescent")
_enabled: Path | None = None


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/feedback-miner/numba``, else ``~/.cache/feedback-miner/numba``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "feedback-miner" / "numba"


def jit_cache_enabled() -> Path | None:
    """The cache directory if :func:`enable_jit_cache` ran in this process, else ``None``."""
    return _enabled


def _caching(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cache", True)
        return fn(*args, **kwargs)

    wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
    return wrapper


def enable_jit_cache(cache_dir: Path | None = None) -> Path | None:
    """Turn on numba's on-disk cache for UMAP and pynndescent; returns the directory used.

    Call it once, early (the composition root), before anything imports ``umap``. Later calls
    are no-ops. An existing ``NUMBA_CACHE_DIR`` wins over ``cache_dir``. If ``umap`` was
    already imported, only the cache directory is set and ``None`` is returned: the compiled
    functions already exist without caching, so this process compiles as before.
    """
    global _enabled
    if _enabled is not None:
        return _enabled
    target = Path(os.environ.get("NUMBA_CACHE_DIR") or cache_dir or default_cache_dir())
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"JIT cache directory {target} is not writable ({exc}); set FM_JIT_CACHE_DIR or "
                          "NUMBA_CACHE_DIR to a writable directory, or FM_JIT_CACHE=false") from exc
    if not os.access(target, os.W_OK):
        raise ConfigError(f"JIT cache directory {target} is not writable; set FM_JIT_CACHE_DIR or "
                          "NUMBA_CACHE_DIR to a writable directory, or FM_JIT_CACHE=false")
    os.environ["NUMBA_CACHE_DIR"] = str(target)
    already = [p for p in _PACKAGES if p in sys.modules]
    import numba

    numba.core.config.reload_config()  # type: ignore[no-untyped-call]  # numba read NUMBA_CACHE_DIR at import
    if already:
        return None
    njit, jit = numba.njit, numba.jit
    numba.njit, numba.jit = _caching(njit), _caching(jit)
    try:
        import pynndescent  # noqa: F401 - decorated (and eagerly compiled) with caching on
        import umap  # noqa: F401
    finally:
        numba.njit, numba.jit = njit, jit
    _enabled = target
    return target
