"""Backfill benchmark: embed and classify a backlog of stored texts in this process vs on a local
Dask cluster with 1 and with 2 single-threaded workers.

    python benchmarks/bench_backfill.py [--n 20000] [--data ../shared/data] [--out benchmarks/results/backfill.json]

N unique texts drawn evenly from the five shared sets (random.Random(0), as bench_throughput.py)
are stored once in a SQLite file; each configuration gets its own copy of that file and runs what
``feedback-miner embed`` runs (``services.backlog``: embed every text without a vector in chunks
of 4096, cache the vectors, then classify every row and save the predictions):

* ``local``: SentenceTransformerEmbedder in this process (torch's default threads: 2 here);
* ``dask_1x1`` / ``dask_2x1``: ``distributed.LocalCluster`` with 1 / 2 worker processes of one
  thread each, the model loaded once per worker by the plugin (start-up timed apart).

Per configuration: wall time of the embed pass and of the classify pass, texts/s, peak RSS of
each worker process (``ru_maxrss`` read inside the worker), and that the cached vectors and the
predictions equal the local ones. Timings are CPU-bound: the machine's load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import log
from bench_throughput import SETS, rss_now_mb, sample_texts

CHUNK = 4096


def _worker_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    """CPU seconds (user + system, all threads) this process has used."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _seed_store(path: Path, texts: list[str]) -> None:
    from sqlalchemy import insert

    from feedback_miner.adapters import tables as t
    from feedback_miner.adapters.store import open_store
    from feedback_miner.domain.weeks import week_of
    from feedback_miner.stages.embed import text_hash

    store = open_store(f"sqlite:///{path}")
    t0 = datetime(2026, 1, 5, tzinfo=UTC)
    now = datetime.now(UTC)
    rows = []
    for i, text in enumerate(texts):
        at = t0 + timedelta(minutes=30 * i)
        rows.append({"source": "bench", "external_id": str(i), "text": text, "text_hash": text_hash(text),
                     "created_at": at, "week": week_of(at), "ingested_at": now, "updated_at": now})
    with store.tx() as c:  # one bulk insert: ingestion is not what this measures
        c.execute(insert(t.feedback), rows)
    store.engine.dispose()


def _run(name: str, db: Path, embedder: Any, clf: Any, version: str,
         workers_cpu: Callable[[], float] | None = None) -> dict[str, Any]:
    from feedback_miner.adapters.backlog_sql import SqlBacklog
    from feedback_miner.adapters.store import open_store
    from feedback_miner.services.backlog import classify_backlog, embed_backlog

    store = open_store(f"sqlite:///{db}")
    backlog = SqlBacklog(store)
    size0 = db.stat().st_size
    load0 = _load()
    w0, c0 = (workers_cpu() if workers_cpu else 0.0), _cpu_s()
    t = time.perf_counter()
    rows, distinct = embed_backlog(backlog, embedder, chunk_size=CHUNK)
    embed_s = time.perf_counter() - t
    w1, c1 = (workers_cpu() if workers_cpu else 0.0), _cpu_s()
    t = time.perf_counter()
    classified = classify_backlog(backlog, embedder, clf, classifier_version=version, chunk_size=CHUNK)
    classify_s = time.perf_counter() - t
    store.engine.dispose()
    out = {"rows_embedded": rows, "texts_embedded": distinct, "rows_classified": classified,
           "embed_s": round(embed_s, 2), "texts_per_s": round(distinct / embed_s, 1),
           "cpu_s_this_process_embed": round(c1 - c0, 2), "cpu_s_workers_embed": round(w1 - w0, 2),
           "cpu_ms_per_text_embed": round(1000 * (c1 - c0 + w1 - w0) / distinct, 2),
           "classify_s": round(classify_s, 2), "loadavg_before": load0, "loadavg_after": _load(),
           "db_bytes_before": size0, "db_bytes_after": db.stat().st_size}
    log(f"  {name}: {out}")
    return out


def _results(db: Path, texts: list[str], version: str) -> tuple[Any, dict[int, str]]:
    import numpy as np

    from feedback_miner.adapters.store import open_store
    from feedback_miner.stages.embed import text_hash

    store = open_store(f"sqlite:///{db}")
    vecs = store.get_vectors("all-MiniLM-L6-v2", [text_hash(x) for x in texts])
    X = np.stack([vecs[text_hash(x)] for x in texts])
    preds = store.predicted_categories(list(range(1, len(texts) + 1)))
    store.engine.dispose()
    return X, preds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/fm-bench-backfill"))
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "backfill.json")
    args = ap.parse_args()

    import numpy as np
    from distributed import LocalCluster

    from feedback_miner.adapters.artefacts import load_classifier
    from feedback_miner.adapters.distributed.embedder import DaskEmbedder
    from feedback_miner.adapters.embedders import SentenceTransformerEmbedder

    texts = sample_texts(args.data, args.n)
    log(f"{len(texts)} unique texts, mean {np.mean([len(x) for x in texts]):.0f} chars; load {_load()}")
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    seed = args.workdir / "seed.db"
    _seed_store(seed, texts)
    clf, manifest = load_classifier(ROOT / "models" / "classifier")
    version = str(manifest["version"])
    runs: dict[str, dict[str, Any]] = {}

    for n_workers in (1, 2):
        name = f"dask_{n_workers}x1"
        db = args.workdir / f"{name}.db"
        shutil.copy(seed, db)
        log(f"{name}: starting a LocalCluster of {n_workers} single-threaded worker processes")
        t = time.perf_counter()
        with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
                          host="127.0.0.1") as cluster:
            emb = DaskEmbedder(cluster.scheduler_address)  # registers the plugin: each worker loads the model
            startup = time.perf_counter() - t
            runs[name] = _run(name, db, emb, clf, version,
                              workers_cpu=lambda e=emb: sum(e.client.run(_cpu_s).values()))
            runs[name]["startup_and_model_load_s"] = round(startup, 2)
            infos = emb.workers()
            peaks = list(emb.client.run(_worker_peak_rss_mb).values())
            runs[name]["worker_peak_rss_mb"] = [round(p, 0) for p in peaks]
            runs[name]["model_loads_per_worker"] = [i["loads"] for i in infos]
            emb.close()
    client_rss = rss_now_mb()
    log("local: SentenceTransformerEmbedder in this process")
    db = args.workdir / "local.db"
    shutil.copy(seed, db)
    local = SentenceTransformerEmbedder(batch_size=64)
    import torch

    runs["local"] = _run("local", db, local, clf, version)
    runs["local"]["torch_threads"] = torch.get_num_threads()
    runs["local"]["process_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)

    X_local, p_local = _results(args.workdir / "local.db", texts, version)
    for name in ("dask_1x1", "dask_2x1"):
        X, p = _results(args.workdir / f"{name}.db", texts, version)
        runs[name]["identical_to_local"] = {
            "vectors_bit_identical_rows": int((X_local == X).all(axis=1).sum()), "rows": len(texts),
            "max_abs_diff": float(np.abs(X - X_local).max()),
            "predictions_equal": p == p_local and len(p) == len(texts)}
        log(f"  {name} vs local: {runs[name]['identical_to_local']}")
    one, two = runs["dask_1x1"]["texts_per_s"], runs["dask_2x1"]["texts_per_s"]
    out = {
        "command": "python benchmarks/bench_backfill.py " + " ".join(sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_1_5_15_at_end": _load(),
                    "note": "shared machine: other processes ran during the measurement (see loadavg per run)"},
        "texts": {"n": len(texts), "sources": list(SETS), "chunk": CHUNK, "partition_size": 256,
                  "mean_chars": round(float(np.mean([len(x) for x in texts])), 1)},
        "runs": runs,
        "speedup": {"dask_2x1_over_dask_1x1": round(two / one, 2),
                    "dask_2x1_over_local": round(two / runs["local"]["texts_per_s"], 2),
                    "dask_1x1_over_local": round(one / runs["local"]["texts_per_s"], 2)},
        "client_rss_mb_after_dask_runs": round(client_rss, 0),
        "store_bytes_per_row_after_embed_and_classify": round(
            (runs["local"]["db_bytes_after"] - runs["local"]["db_bytes_before"]) / len(texts), 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    log(f"wrote {args.out}: speed-up 2 workers / 1 worker = {out['speedup']['dask_2x1_over_dask_1x1']}")


if __name__ == "__main__":
    main()
