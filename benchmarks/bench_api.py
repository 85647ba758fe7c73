"""HTTP API benchmark: the real server (uvicorn, real model, SQLite file), 8 concurrent clients.

    python benchmarks/bench_api.py [--clients 8] [--classify-requests 800] [--feedback-batches 80]
                                   [--batch 50] [--embedder sentence-transformers|onnx-int8|onnx-dynamic-int8]
                                   [--variants shipped before ...] [--rounds 2] [--skip-feedback]
                                   [--out benchmarks/results/api.json]

1. ``POST /v1/classify`` with one comment per request: latency p50/p95/p99 (client-side, full HTTP
   round trip), requests/s across all clients, and CPU per request of the server process (from
   /proc) and of the client process.
2. ``POST /v1/feedback`` with batches of unique items: items/s stored.
Texts come from the bundled demo generator (seeded).

Variants (VARIANTS below) start the same server with other settings of the online model, the
batcher and uvicorn, passed through environment variables that a small wrapper applies before
``feedback-miner serve`` starts (_SERVER); each round runs every variant once, in alternating order.
``shipped`` is the code as it is; ``before`` reproduces the settings before this change.
The machine is shared: the load average before and after each run is recorded with it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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
sys.path.insert(0, str(ROOT))

from benchmarks._common import free_port, percentile

# Applies FM_BENCH_SWITCH_S (sys.setswitchinterval), FM_BENCH_ONNX (options of both ONNX embedders), FM_BENCH_BATCHER (BatchingEmbedder options) and
# FM_BENCH_UVICORN (uvicorn.run options), JSON each, then runs `feedback-miner serve ...`.
_SERVER = r"""
import functools, json, os, sys
if os.environ.get("FM_BENCH_SWITCH_S"):
    sys.setswitchinterval(float(os.environ["FM_BENCH_SWITCH_S"]))
onnx = json.loads(os.environ.get("FM_BENCH_ONNX") or "{}")
if onnx:
    import feedback_miner.adapters.embedders as e
    e.OnnxInt8Embedder = functools.partial(e.OnnxInt8Embedder, **onnx)
    e.OnnxDynamicInt8Embedder = functools.partial(e.OnnxDynamicInt8Embedder, **onnx)  # the classify default
batcher = json.loads(os.environ.get("FM_BENCH_BATCHER") or "{}")
if batcher:
    import api.batching as b, api.services as s
    s.BatchingEmbedder = functools.partial(b.BatchingEmbedder, **batcher)
uv = json.loads(os.environ.get("FM_BENCH_UVICORN") or "{}")
if uv:
    import uvicorn
    _run = uvicorn.run
    uvicorn.run = lambda *a, **k: _run(*a, **{**k, **uv})
from feedback_miner.cli import main
sys.argv = ["feedback-miner", *sys.argv[1:]]
main()
"""

VARIANTS: dict[str, dict[str, Any]] = {
    "shipped": {},
    # uvicorn's pure-Python HTTP parser and event loop (what it picks when uvloop and httptools are missing)
    "h11-asyncio": {"uvicorn": {"loop": "asyncio", "http": "h11"}},
    # /v1/classify on the float-computing int8 ONNX model (the default before onnx-dynamic-int8)
    "int8-online": {"env": {"FM_ONLINE_EMBEDDER": "onnx-int8"}},
    # onnx-dynamic-int8 for batch work too (one session shared by both)
    "dynamic-all": {"env": {"FM_EMBEDDER": "onnx-dynamic-int8"}},
    "before": {"onnx": {"batch_size": 16, "threads": None, "workers": 1, "spinning": True},
               "env": {"FM_EMBEDDER": "sentence-transformers"}},  # the batch default then: torch loaded too
    "onnx-2threads": {"onnx": {"threads": 2}},
    "2batchers": {"batcher": {"workers": 2}},
    "window1ms": {"batcher": {"window_s": 0.001}},
    "2batchers-window1ms": {"batcher": {"workers": 2, "window_s": 0.001}},
    "no-access-log": {"uvicorn": {"access_log": False}},
    "switch1ms": {"env": {"FM_BENCH_SWITCH_S": "0.001"}},
    "onnx-2threads-switch1ms": {"onnx": {"threads": 2}, "env": {"FM_BENCH_SWITCH_S": "0.001"}},
    "2batchers-switch1ms": {"batcher": {"workers": 2}, "env": {"FM_BENCH_SWITCH_S": "0.001"}},
    # sub-batches of the gathered texts, run on the embedder's two threads (less padding, both cores)
    "onnx-batch1": {"onnx": {"batch_size": 1}},
    "onnx-batch2": {"onnx": {"batch_size": 2}},
    "onnx-batch4": {"onnx": {"batch_size": 4}},
    "onnx-batch2-2batchers": {"onnx": {"batch_size": 2}, "batcher": {"workers": 2}},
    # two uvicorn worker processes (`serve --workers 2`), each with its own event loop, GIL and model
    "2workers": {"args": ["--workers", "2"]},
}


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live descendants (`serve --workers N` forks workers)."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                f = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry)] = (int(f[1]), (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK"))
    tree, grew = {pid}, True
    while grew:
        grew = False
        for p, (ppid, _) in stats.items():
            if ppid in tree and p not in tree:
                tree.add(p)
                grew = True
    return sum(stats[p][1] for p in tree if p in stats)


def start_server(db_url: str, embedder: str, log: Path, variant: dict[str, Any] | None = None
                 ) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    v = variant or {}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "FM_ONLINE_EMBEDDER": embedder,
           "FM_BENCH_ONNX": json.dumps(v.get("onnx", {})), "FM_BENCH_BATCHER": json.dumps(v.get("batcher", {})),
           "FM_BENCH_UVICORN": json.dumps(v.get("uvicorn", {})), **v.get("env", {})}
    proc = subprocess.Popen([sys.executable, "-c", _SERVER, "serve", "--port", str(port),
                             "--db", db_url, *v.get("args", [])], env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=v.get("cwd", ROOT))
    base = f"http://127.0.0.1:{port}"
    args = list(v.get("args", []))
    workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 1
    ready: set[int] = set()  # worker pids that answered ready (/readyz names the answering process)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 300:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early; see {log}")
        try:
            r = httpx.get(base + "/readyz", timeout=2)  # a new connection each time, so any worker may answer
            if r.status_code == 200:
                ready.add(int(r.json()["checks"]["worker"]))
                if len(ready) >= workers:
                    return proc, base
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit("server not ready in 300 s")


def _classify_loop(base: str, key: str, texts: list[str], w: int, per: int,
                   c: httpx.Client | None = None) -> list[float]:
    lat = []
    client = c or httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30)
    try:
        for i in range(per):
            t = texts[(w * per + i) % len(texts)]
            t0 = time.perf_counter()
            r = client.post("/v1/classify", json={"texts": [t]})
            lat.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, r.text
    finally:
        if c is None:
            client.close()
    return lat


def _client_process(base: str, key: str, texts: list[str], w: int, per: int, go: Any, out: Any) -> None:
    """One client in its own process (``--client-mode processes``): connects and warms up, says so
    on ``out``, waits for ``go``, then sends its requests; puts (latencies, its CPU seconds) on ``out``."""
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30) as c:
        for t in texts[:3]:
            c.post("/v1/classify", json={"texts": [t]})
        out.put("ready")
        go.wait()
        c0 = time.process_time()
        lat = _classify_loop(base, key, texts, w, per, c)
        out.put((lat, time.process_time() - c0))


def bench_classify(base: str, key: str, texts: list[str], clients: int, n: int, server_pid: int,
                   mode: str = "threads") -> dict[str, Any]:
    """``mode="threads"``: the clients are threads of this process (one GIL for all eight, as in
    every run before 2026-12-02 late); ``"processes"``: each client is its own process, as eight
    ticketing tools would be. Both run on the same two cores as the server."""
    per = n // clients

    with httpx.Client(base_url=base, headers={"X-API-Key": key}) as c:  # warm-up
        for t in texts[:20]:
            c.post("/v1/classify", json={"texts": [t]})
    load0 = os.getloadavg()[0]
    if mode == "processes":
        import multiprocessing as mp

        ctx = mp.get_context("fork")
        go, out = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_client_process, args=(base, key, texts, w, per, go, out)) for w in range(clients)]
        for p in procs:
            p.start()
        for _ in procs:  # every client connected and warmed up
            if out.get(timeout=120) != "ready":
                raise SystemExit("a client reported results before the start")
        t0, s0 = time.perf_counter(), _cpu_s(server_pid)
        go.set()
        parts = [out.get(timeout=600) for _ in procs]
        wall = time.perf_counter() - t0
        server_cpu = _cpu_s(server_pid) - s0
        for p in procs:
            p.join(30)
        lats = [x for lat, _ in parts for x in lat]
        client_cpu = sum(cpu for _, cpu in parts)
    else:
        t0, s0, c0 = time.perf_counter(), _cpu_s(server_pid), time.process_time()
        with ThreadPoolExecutor(clients) as ex:
            lats = [x for part in ex.map(lambda w: _classify_loop(base, key, texts, w, per), range(clients))
                    for x in part]
        wall = time.perf_counter() - t0
        server_cpu, client_cpu = _cpu_s(server_pid) - s0, time.process_time() - c0
    return {"requests": len(lats), "clients": clients, "wall_s": round(wall, 2),
            "throughput_rps": round(len(lats) / wall, 1), "p50_ms": round(percentile(lats, 50), 1),
            "p95_ms": round(percentile(lats, 95), 1), "p99_ms": round(percentile(lats, 99), 1),
            "mean_ms": round(statistics.fmean(lats), 1), "max_ms": round(max(lats), 1),
            "server_cpu_ms_per_request": round(1000 * server_cpu / len(lats), 2),
            "client_cpu_ms_per_request": round(1000 * client_cpu / len(lats), 2), "client_mode": mode,
            "loadavg_1m_before_after": [round(load0, 2), round(os.getloadavg()[0], 2)]}


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
    ap.add_argument("--embedder", default="onnx-dynamic-int8",
                    choices=["sentence-transformers", "onnx-int8", "onnx-dynamic-int8"],
                    help="runtime of /v1/classify (FM_ONLINE_EMBEDDER)")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=JSON",
                    help='an extra variant, e.g. \'before={"cwd": "/tmp/old", "env": {"PYTHONPATH": "/tmp/old"}}\' '
                    "(another checkout's code on this environment: the server imports from its cwd first); "
                    "name it in --variants")
    ap.add_argument("--variants", nargs="+", default=["shipped"])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--skip-feedback", action="store_true")
    ap.add_argument("--client-mode", choices=["threads", "processes"], default="threads",
                    help="the clients as threads of this process (one GIL) or as processes of their own")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "api.json")
    a = ap.parse_args()
    for spec in a.variant:
        name, _, js = spec.partition("=")
        VARIANTS[name] = json.loads(js)
    unknown = [v for v in a.variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variants {unknown}; known: {sorted(VARIANTS)}")

    from feedback_miner.adapters.keys import create_key
    from feedback_miner.adapters.store import open_store
    from feedback_miner.demo.generate import generate_demo

    texts = [str(r["text"]) for r in generate_demo(weeks=4, end_week="2026-W46", per_week=250)]
    tmp = Path(tempfile.mkdtemp(prefix="fm-bench-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    key = create_key(open_store(url), role="ingest", name="bench")[0]
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in a.variants}
    feedback: dict[str, Any] | None = None
    for r in range(a.rounds):
        for name in (a.variants if r % 2 == 0 else a.variants[::-1]):
            proc, base = start_server(url, a.embedder, tmp / f"server-{name}-{r}.log", VARIANTS[name])
            try:
                classify = bench_classify(base, key, texts, a.clients, a.classify_requests, proc.pid, a.client_mode)
                print(f"round {r + 1} {name}: classify {classify}", flush=True)
                runs[name].append(classify)
                if feedback is None and not a.skip_feedback and name == "shipped":
                    feedback = bench_feedback(base, key, texts, a.clients, a.feedback_batches, a.batch)
                    print("feedback:", feedback, flush=True)
            finally:
                proc.terminate()
                proc.wait(30)

    def med(xs: list[dict[str, Any]], k: str) -> float:
        return round(statistics.median(x[k] for x in xs), 1)

    summary = {v: {k: med(xs, k) for k in ("p50_ms", "p95_ms", "p99_ms", "throughput_rps",
                                              "server_cpu_ms_per_request", "client_cpu_ms_per_request")}
               | {"p99_ms_all": [x["p99_ms"] for x in xs], "settings": VARIANTS[v]} for v, xs in runs.items()}
    result = {"benchmark": "api", "online_embedder": a.embedder, "command": "python benchmarks/bench_api.py "
              + " ".join(sys.argv[1:]), "classify_single": summary, "classify_runs": runs, "feedback_batch": feedback,
              "target": {"classify_p99_ms": 50, "met_by": [v for v, s in summary.items() if s["p99_ms"] <= 50]},
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                          "loadavg_1m_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)]},
              "store": "SQLite file (WAL)", "server": "uvicorn, 1 process",
              "when": datetime.now(UTC).isoformat(timespec="seconds")}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
