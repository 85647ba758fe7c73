"""numba's on-disk cache: a second process loads UMAP's compiled functions instead of compiling them.

Each check runs in a fresh interpreter (whether umap was imported first matters). No timing is
asserted: numba's own per-function cache hit/miss counters say whether code was loaded or built.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Cluster 120 random unit vectors the way stages.cluster does, then report numba's counters for
# UMAP functions that are not marked cache=True upstream.
_CHILD = r"""
import json, sys, warnings
warnings.simplefilter("error")  # a "cannot cache" NumbaWarning would fail the test (filters as pyproject)
for w in (DeprecationWarning, FutureWarning, ImportWarning, SyntaxWarning):
    warnings.simplefilter("ignore", w)
from feedback_miner.adapters.jit_cache import enable_jit_cache
if sys.argv[1] == "on":
    enable_jit_cache()
imported_early = sorted(m for m in ("numba", "umap", "pynndescent") if m in sys.modules)
import numpy as np
from feedback_miner.stages.cluster import ClusterParams, cluster_embeddings
rng = np.random.default_rng(0)
X = rng.normal(size=(120, 384)).astype(np.float32)
X /= np.linalg.norm(X, axis=1, keepdims=True)
labels = cluster_embeddings(X, ClusterParams(min_cluster_size=5))
import umap.umap_ as uu, umap.layouts as ul
fns = [uu.smooth_knn_dist, uu.compute_membership_strengths, ul._nb_optimize_layout_euclidean_single_epoch]
print(json.dumps({"hits": sum(sum(f._cache_hits.values()) for f in fns),
                  "misses": sum(sum(f._cache_misses.values()) for f in fns),
                  "labels": labels.tolist(), "imported_early": imported_early}))
"""


def _run(mode: str, cache_home: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(cache_home)
    out = subprocess.run([sys.executable, "-c", _CHILD, mode], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_setup_warm_up_fills_the_cache_and_every_later_process_loads_it(tmp_path: Path) -> None:
    """scripts/setup.sh runs bootstrap.warm_jit_cache: afterwards even the first clustering process
    loads UMAP's code instead of compiling it, and gives the labels a compiling process gives.
    (One test, so the suite compiles UMAP twice in all: the warm-up and the process without the cache.)"""
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "FM_JIT_CACHE_DIR", "FM_JIT_CACHE")}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    warm = subprocess.run([sys.executable, "-c", "from feedback_miner.bootstrap import warm_jit_cache; "
                           "print(warm_jit_cache())"], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=900, check=False)
    assert warm.returncode == 0, warm.stderr[-3000:]
    cache = tmp_path / "feedback-miner" / "numba"
    assert warm.stdout.strip().splitlines()[-1] == str(cache)
    assert any(cache.rglob("*.nbi")), "no index files written to the per-user cache directory"

    first = _run("on", tmp_path)
    assert first["imported_early"] == []  # enabling imports nothing: commands that never cluster pay nothing
    assert first["hits"] and not first["misses"]  # loaded, not compiled

    plain = _run("off", tmp_path)  # without it every process compiles again
    assert plain["misses"] and not plain["hits"]
    assert plain["labels"] == first["labels"]  # the same machine code, the same clusters
