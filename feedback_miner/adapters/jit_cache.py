"""numba's on-disk cache for the clustering libraries: compile UMAP's functions once per machine, not per process.

UMAP and pynndescent compile about forty numba functions the first time a process clusters; most
are not marked ``cache=True``, so every ``feedback-miner analyze`` / ``run`` paid about 8 s of CPU
compiling the same code again (docs/PERFORMANCE.md). :func:`enable_jit_cache` points
``NUMBA_CACHE_DIR`` at a writable per-user directory (unless already set) and installs an import
hook: while ``umap`` or ``pynndescent`` is being imported, ``numba.njit`` / ``numba.jit`` default
to ``cache=True``. It imports nothing itself, so a command that never clusters pays nothing.
Compiled code then lands in that directory and the next process loads it. numba keys each entry
by the function's source file, its bytecode, the argument types and the CPU, so an upgraded
library or another machine compiles afresh. The results are identical: the same machine code
runs, loaded instead of rebuilt.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from feedback_miner.errors import ConfigError

__all__ = ["default_cache_dir", "enable_jit_cache", "jit_cache_enabled"]

_PACKAGES = ("umap", "pynndescent")
_enabled: Path | None = None
_lock = threading.RLock()
_depth = 0


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/feedback-miner/numba``, else ``~/.cache/feedback-miner/numba``."""
    from feedback_miner.config import user_cache_dir

    return user_cache_dir("numba")


def jit_cache_enabled() -> Path | None:
    """The cache directory if :func:`enable_jit_cache` ran in this process, else ``None``."""
    return _enabled


def _caching(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cache", True)
        return fn(*args, **kwargs)

    wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
    return wrapper


@contextmanager
def _numba_caching() -> Iterator[None]:
    """``numba.njit`` / ``numba.jit`` default to ``cache=True`` inside (re-entrant: pynndescent's
    import runs inside umap's)."""
    global _depth
    import numba

    with _lock:
        if _depth == 0:
            numba.core.config.reload_config()  # type: ignore[no-untyped-call]  # NUMBA_CACHE_DIR may be new
            saved = numba.njit, numba.jit
            numba.njit, numba.jit = _caching(numba.njit), _caching(numba.jit)
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
            if _depth == 0:
                numba.njit, numba.jit = saved


class _Loader(importlib.abc.Loader):
    """The package's own loader, run with caching on; everything else is delegated to it."""

    def __init__(self, inner: importlib.abc.Loader) -> None:
        self._inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with _numba_caching():
            self._inner.exec_module(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _PACKAGES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _Loader(spec.loader)
                return spec
        return None


def enable_jit_cache(cache_dir: Path | None = None) -> Path | None:
    """Turn on numba's on-disk cache for UMAP and pynndescent; returns the directory used.

    Call it once, early (the composition root), before anything imports ``umap``; it imports
    nothing. Later calls are no-ops. An existing ``NUMBA_CACHE_DIR`` wins over ``cache_dir``.
    If ``umap`` was already imported, only the cache directory is set and ``None`` is returned:
    its compiled functions exist without caching, so this process compiles as before.
    """
    global _enabled
    if _enabled is not None:
        return _enabled
    target = Path(os.environ.get("NUMBA_CACHE_DIR") or cache_dir or default_cache_dir())
    hint = "set FM_JIT_CACHE_DIR or NUMBA_CACHE_DIR to a writable directory, or FM_JIT_CACHE=false"
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"JIT cache directory {target} is not writable ({exc}); {hint}") from exc
    if not os.access(target, os.W_OK):
        raise ConfigError(f"JIT cache directory {target} is not writable; {hint}")
    os.environ["NUMBA_CACHE_DIR"] = str(target)
    if "numba" in sys.modules:
        sys.modules["numba"].core.config.reload_config()  # numba read NUMBA_CACHE_DIR when it was imported
    if any(p in sys.modules for p in _PACKAGES):
        return None
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
    _enabled = target
    return target
