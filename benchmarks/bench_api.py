"""HTTP API benchmark: the real server (uvicorn, real model, SQLite file), 8 concurrent clients.

    python benchmarks/bench_api.py [--clients 8] [--classify-requests 800] [--feedback-batches 80]
                                   [--batch 50] [--embedder sentence-transformers|onnx-int8]
                                   [--out benchmarks/results/api.json]

1. ``POST /v1/classify`` with one comment per request: latency p50/p95/p99 (client-side, full HTTP
   round trip) and requests/s across all clients.
2. ``POST /v1/feedback`` with batches of unique items: items/s stored.
Texts come from the bundled demo generator (seeded). Run it alone on the machine: it is CPU-bound.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q / 100 * len(xs)) - 1))]


def start_server(db_url: str, embedder: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "FM_EMBEDDER": embedder}
    proc = subprocess.Popen([sys.executable, "-m", "feedback_miner.cli", "serve", "--port", str(port),
                             "--db", db_url], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    while time.monotonic() - t0 < 300:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early; see {log}")
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit("server not ready in 300 s")


def bench_classify(base: str, key: str, texts: list[str], clients: int, n: int) -> dict[str, Any]:
    per = n // clients

    def worker(w: int) -> list[float]:
        lat = []
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30) as c:
            for i in range(per):
                t = texts[(w * per + i) % len(texts)]
                t0 = time.perf_counter()
                r = c.post("/v1/classify", json={"texts": [t]})
                lat.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, r.text
        return lat

    with httpx.Client(base_url=base, headers={"X-API-Key": key}) as c:  # warm-up
        for t in texts[:20]:
            c.post("/v1/classify", json={"texts": [t]})
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as ex:
        lats = [x for part in ex.map(worker, range(clients)) for x in part]
    wall = time.perf_counter() - t0
    return {"requests": len(lats), "clients": clients, "wall_s": round(wall, 2),
            "throughput_rps": round(len(lats) / wall, 1), "p50_ms": round(_pct(lats, 50), 1),
            "p95_ms": round(_pct(lats, 95), 1), "p99_ms": round(_pct(lats, 99), 1),
            "mean_ms": round(statistics.fmean(lats), 1), "max_ms": round(max(lats), 1)}


def bench_feedback(base: str, key: str, texts: list[str], clients: int, batches: int, size: int) -> dict[str, Any]:
    per = batches // clients

    def worker(w: int) -> int:
        stored = 0
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=120) as c:
            for b in range(per):
                items = [{"text": texts[(w * 7919 + b * size + k) % len(texts)], "source": "bench",
                          "external_id": f"w{w}-b{b}-{k}", "created_at": "2026-11-12T10:00:00Z"} for k in range(size)]
                r = c.post("/v1/feedback", json={"items": items})
                assert r.status_code == 200, r.text
                stored += r.json()["counts"]["stored"]
        return stored

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as ex:
        stored = sum(ex.map(worker, range(clients)))
    wall = time.perf_counter() - t0
    return {"items": stored, "batch_size": size, "clients": clients, "wall_s": round(wall, 2),
            "items_per_s": round(stored / wall, 1), "batches_per_s": round(per * clients / wall, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--classify-requests", type=int, default=800)
    ap.add_argument("--feedback-batches", type=int, default=80)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--embedder", default="sentence-transformers", choices=["sentence-transformers", "onnx-int8"])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "api.json")
    a = ap.parse_args()

    from feedback_miner.adapters.keys import create_key
    from feedback_miner.adapters.store import open_store
    from feedback_miner.demo.generate import generate_demo

    texts = [str(r["text"]) for r in generate_demo(weeks=4, end_week="2026-W46", per_week=250)]
    tmp = Path(tempfile.mkdtemp(prefix="fm-bench-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    key = create_key(open_store(url), role="ingest", name="bench")[0]
    load_before = os.getloadavg()
    proc, base = start_server(url, a.embedder, tmp / "server.log")
    try:
        classify = bench_classify(base, key, texts, a.clients, a.classify_requests)
        print("classify:", classify, flush=True)
        feedback = bench_feedback(base, key, texts, a.clients, a.feedback_batches, a.batch)
        print("feedback:", feedback, flush=True)
    finally:
        proc.terminate()
        proc.wait(30)
    result = {"benchmark": "api", "embedder": a.embedder, "classify_single": classify, "feedback_batch": feedback,
              "target": {"classify_p99_ms": 50, "met": classify["p99_ms"] <= 50},
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                          "loadavg_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)]},
              "store": "SQLite file (WAL)", "server": "uvicorn, 1 process",
              "when": datetime.now(UTC).isoformat(timespec="seconds")}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
