"""Load benchmark: ``feedback-miner serve --workers N`` on PostgreSQL, 16 concurrent clients.

    python benchmarks/bench_load.py [--db postgresql+psycopg://...] [--configs 1 2 2:1] [--duration 30]
                                    [--clients 16] [--batch 20] [--rounds 2] [--out benchmarks/results/load.json]

Without ``--db`` it uses the server in ``FM_TEST_POSTGRES_URL``, or restarts itself under
``scripts/ci-postgres.sh`` (a throwaway PostgreSQL cluster on 127.0.0.1, deleted afterwards).
A fresh database is created on that server and dropped at the end.

Seeding (not timed): two weeks of the bundled demo stream are ingested and the last one is run
(``feedback-miner ingest`` + ``run``, the real model), so there is a digest to read. Then, per
configuration (``--configs``: ``N`` workers with the shipped settings, ``N:T`` with
``FM_ONLINE_THREADS=T``; each ``--rounds`` times, in alternating order), the real server is
started (every worker loads the real model) and ``--clients`` threads, each with its own
keep-alive ``httpx.Client`` (connected 0.1 s apart, and re-connected until each worker holds
an equal share of the connections, as a least-connections balancer would give), send for ``--duration`` seconds a mix of

* ``POST /v1/feedback``: a batch of ``--batch`` items with unique external ids (25 % of requests),
* ``POST /v1/classify``: one comment (50 %),
* ``GET /v1/digests/{week}``: the stored digest as JSON (25 %).

Reported per run: requests/s, p50/p95/p99 latency per route kind (full HTTP round trip, client
side), errors (any non-2xx answer or transport error; must be 0), rows lost (items the server
answered ``stored`` that are not in the store afterwards, counted exactly by their ids; must be 0),
the 1-minute load average sampled every second during the run, and CPU seconds of the server
(supervisor + workers), of PostgreSQL (postmaster + backends) and of this client process, with
each worker's resident memory at the end and how many client connections each worker accepted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import free_port, log, percentile

WEEK = "2026-W46"
# 16 connections opened in the same instant mostly land on one worker (the worker woken first accepts
# the whole backlog: asyncio accepts in batches); one every 0.1 s spreads them as clients arriving do.
STAGGER_S = 0.1
MIX: tuple[tuple[str, float], ...] = (("feedback", 0.25), ("classify", 0.50), ("digest", 0.25))




def _cpu_of(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _postgres_pid(port: int) -> int | None:
    """The postmaster listening on ``port`` (its backends are its children), if visible."""
    try:
        for c in psutil.net_connections(kind="tcp"):
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
                return int(c.pid)
    except psutil.Error:
        pass
    return None


# -- seeding ----------------------------------------------------------------------------------------

def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FM_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(ROOT))
    return env


def _cli(*args: str) -> None:
    r = subprocess.run([sys.executable, "-m", "feedback_miner.cli", *args], cwd=ROOT, env=_env(),
                       capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"feedback-miner {args[0]} failed ({r.returncode}):\n{r.stdout[-2000:]}{r.stderr[-2000:]}")


def seed(url: str, tmp: Path) -> tuple[dict[str, str], list[str]]:
    """Demo feedback for two weeks, the last one run (a digest to read); keys; the texts to send."""
    from feedback_miner.adapters.keys import create_key
    from feedback_miner.adapters.store import open_store
    from feedback_miner.demo.generate import generate_demo, write_demo_csv

    csv_path = tmp / "demo.csv"
    n = write_demo_csv(csv_path, weeks=2, end_week=WEEK)
    t0 = time.perf_counter()
    _cli("ingest", str(csv_path), "--db", url, "--source", "demo")
    _cli("run", "--week", WEEK, "--db", url)
    log(f"seeded {n} demo rows and ran {WEEK} in {time.perf_counter() - t0:.0f} s")
    store = open_store(url)
    keys = {role: create_key(store, role=role, name=f"load {role}")[0] for role in ("ingest", "reader")}
    store.engine.dispose()
    texts = [str(r["text"]) for r in generate_demo(weeks=8, end_week=WEEK, seed=11)]
    return keys, texts


# -- one configuration -------------------------------------------------------------------------------

@dataclass
class Tally:
    lat: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k, _ in MIX})
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    items_sent: int = 0
    items_stored: int = 0  # answered "stored"
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Placement:
    """Which worker each client's connection reached: first as accepted, then as balanced."""

    per_worker: int  # at most this many connections on one worker (clients / workers, rounded up)
    first: Counter[int] = field(default_factory=Counter)
    final: Counter[int] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _connect(base: str, placement: Placement) -> httpx.Client:
    """A keep-alive connection to a worker that has fewer than its share, as a least-connections
    balancer in front would give (the kernel alone often gives one worker most of them)."""
    for attempt in range(100):
        c = httpx.Client(base_url=base, timeout=120)
        pid = int(c.get("/readyz").json()["checks"]["worker"])
        with placement.lock:
            if attempt == 0:
                placement.first[pid] += 1
            if placement.final[pid] < placement.per_worker or attempt == 99:
                placement.final[pid] += 1
                return c
        c.close()
    raise AssertionError("unreachable")


def _client_loop(i: int, base: str, keys: dict[str, str], texts: list[str], tag: str, batch: int,
                 start: float, stop: float, tally: Tally, placement: Placement) -> None:
    rng = random.Random(1000 + i)
    kinds, weights = [k for k, _ in MIX], [w for _, w in MIX]
    seq = 0
    time.sleep(i * STAGGER_S)  # connect one after another, as clients do, not all in one instant
    try:
        c = _connect(base, placement)
    except httpx.HTTPError as exc:  # counted, never silently a client fewer
        with tally.lock:
            tally.errors["connect"] += 1
            tally.error_samples.append(f"connect: {type(exc).__name__}: {exc}")
        return
    try:
        while time.monotonic() < start:
            time.sleep(0.005)
        while time.monotonic() < stop:
            kind = rng.choices(kinds, weights)[0]
            n_items = 0
            if kind == "feedback":
                items = [{"text": rng.choice(texts), "external_id": f"{tag}-{i}-{seq}-{k}", "source": "load",
                          "created_at": "2026-11-12T10:00:00Z", "channel": "web"} for k in range(batch)]
                seq += 1
                n_items = len(items)
                req = c.build_request("POST", "/v1/feedback", json={"items": items},
                                      headers={"X-API-Key": keys["ingest"]})
            elif kind == "classify":
                req = c.build_request("POST", "/v1/classify", json={"texts": [rng.choice(texts)]},
                                      headers={"X-API-Key": keys["ingest"]})
            else:
                req = c.build_request("GET", f"/v1/digests/{WEEK}", headers={"X-API-Key": keys["reader"],
                                                                               "Accept": "application/json"})
            t0 = time.perf_counter()
            try:
                r = c.send(req)
                ok, detail = 200 <= r.status_code < 300, f"{r.status_code} {r.text[:200]}"
            except httpx.HTTPError as exc:
                r, ok, detail = None, False, f"{type(exc).__name__}: {exc}"
            dt = (time.perf_counter() - t0) * 1000
            stored = 0
            if ok and r is not None and kind == "feedback":
                stored = int(r.json()["counts"]["stored"])
            with tally.lock:
                tally.lat[kind].append(dt)
                tally.items_sent += n_items
                tally.items_stored += stored
                if not ok:
                    tally.errors[kind] += 1
                    if len(tally.error_samples) < 5:
                        tally.error_samples.append(f"{kind}: {detail}")
    finally:
        c.close()


def _start_server(url: str, workers: int, port: int, log_path: Path,
                  threads: int | None) -> subprocess.Popen[bytes]:
    env = {**_env(), **({"FM_ONLINE_THREADS": str(threads)} if threads else {})}
    with log_path.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "feedback_miner.cli", "serve", "--workers", str(workers), "--host", "127.0.0.1",
             "--port", str(port), "--db", url],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_ready(base: str, workers: int, proc: subprocess.Popen[bytes], log_path: Path,
                timeout: float = 300) -> set[int]:
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < workers:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"server not ready ({sorted(seen)} of {workers} workers):\n"
                             f"{log_path.read_text(errors='replace')[-3000:]}")
        try:
            r = httpx.get(f"{base}/readyz", timeout=30)  # a new connection each time
            if r.status_code == 200:
                seen.add(int(r.json()["checks"]["worker"]))
        except httpx.TransportError:
            time.sleep(0.5)
        time.sleep(0.05)
    return seen


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _rows_found(url: str, tag: str) -> int:
    from sqlalchemy import func, select

    from feedback_miner.adapters import tables as t
    from feedback_miner.adapters.store import open_store

    store = open_store(url)
    try:
        with store.tx() as c:
            f = t.feedback
            q = select(func.count()).select_from(f).where(f.c.source == "load", f.c.external_id.like(f"{tag}-%"))
            return int(c.execute(q).scalar_one())
    finally:
        store.engine.dispose()


def run_config(url: str, config: str, args: argparse.Namespace, keys: dict[str, str], texts: list[str],
               tmp: Path, pg_pid: int | None) -> dict[str, Any]:
    w_text, _, t_text = config.partition(":")
    workers, onnx_threads = int(w_text), int(t_text) if t_text else None
    port, log_path = free_port(), tmp / f"server-{workers}w-{uuid.uuid4().hex[:6]}.log"
    base = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    proc = _start_server(url, workers, port, log_path, onnx_threads)
    try:
        pids = _wait_ready(base, workers, proc, log_path)
        log(f"{workers} worker(s) ready in {time.perf_counter() - t0:.0f} s: {sorted(pids)}")
        tag = f"w{workers}-{uuid.uuid4().hex[:8]}"
        tally, placement = Tally(), Placement(per_worker=-(-args.clients // workers))
        start = time.monotonic() + 3.0 + STAGGER_S * args.clients  # every client connected and waiting
        stop = start + args.duration
        threads = [threading.Thread(target=_client_loop, args=(i, base, keys, texts, tag, args.batch, start, stop,
                                                               tally, placement), daemon=True)
                   for i in range(args.clients)]
        for th in threads:
            th.start()
        while time.monotonic() < start:
            time.sleep(0.01)
        server_procs, pg_procs = _tree(proc.pid), _tree(pg_pid) if pg_pid else []
        cpu0 = (_cpu_of(server_procs), _cpu_of(pg_procs), resource.getrusage(resource.RUSAGE_SELF))
        w0, load_before, loads = time.perf_counter(), os.getloadavg()[0], []
        while any(th.is_alive() for th in threads):
            loads.append(os.getloadavg()[0])
            for th in threads:
                th.join(timeout=1.0 / len(threads))
        wall = time.perf_counter() - w0
        server_procs = _tree(proc.pid)  # the same processes (none restarted: checked below)
        ru = resource.getrusage(resource.RUSAGE_SELF)
        cpu = {"server_s": round(_cpu_of(server_procs) - cpu0[0], 2),
               "postgres_s": round(_cpu_of(_tree(pg_pid)) - cpu0[1], 2) if pg_pid else None,
               "client_s": round(ru.ru_utime + ru.ru_stime - cpu0[2].ru_utime - cpu0[2].ru_stime, 2)}
        rss = {pid: round(psutil.Process(pid).memory_info().rss / 2**20) for pid in sorted(pids)}
        still = _wait_ready(base, workers, proc, log_path, timeout=30)
    finally:
        _stop(proc)
    found = _rows_found(url, tag)
    n = sum(len(v) for v in tally.lat.values())
    res = {
        "config": config,
        "workers": workers,
        "online_threads": onnx_threads or "shipped (2)",
        "clients": args.clients,
        "duration_s": round(wall, 1),
        "requests": n,
        "throughput_rps": round(n / wall, 1),
        "items_per_s": round(tally.items_stored / wall, 1),
        "routes": {k: {"requests": len(v), "p50_ms": round(percentile(v, 50), 1), "p95_ms": round(percentile(v, 95), 1),
                       "p99_ms": round(percentile(v, 99), 1), "mean_ms": round(statistics.fmean(v), 1) if v else None}
                   for k, v in tally.lat.items()},
        "errors": sum(tally.errors.values()),
        "errors_by_route": dict(tally.errors),
        "error_samples": tally.error_samples,
        "items_sent": tally.items_sent,
        "items_answered_stored": tally.items_stored,
        "rows_in_store": found,
        "rows_lost": tally.items_stored - found,
        "loadavg_1m": {"before": round(load_before, 2), "mean": round(statistics.fmean(loads or [load_before]), 2),
                       "max": round(max(loads or [load_before]), 2)},
        "cpu": {**cpu, "server_ms_per_request": round(1000 * float(cpu["server_s"] or 0) / max(n, 1), 2)},
        "worker_rss_mb": rss,
        "connections_per_worker": dict(placement.final),  # balanced (see _connect)
        "connections_as_first_accepted": dict(placement.first),
        "same_workers_after": still == pids,  # no worker died and was replaced during the run
    }
    log(f"{config}: {res['throughput_rps']} req/s, errors {res['errors']}, rows lost {res['rows_lost']}, "
        f"load {res['loadavg_1m']['mean']}, server CPU {cpu['server_s']} s in {wall:.0f} s wall")
    return res


def auth_cost(url: str, n: int = 2000) -> dict[str, Any]:
    """What checking a good key costs per request, in this process against the store: the shipped
    way (key and block read from the store each time, ``FM_KEY_CACHE_TTL_S=0``) and with a 5 s
    in-process cache of verified keys (block still read from the store)."""
    from api.auth import check_key
    from feedback_miner.adapters.keys import KeyCache, create_key
    from feedback_miner.adapters.ratelimit import FailureLimiter
    from feedback_miner.adapters.store import open_store

    store = open_store(url)
    key = create_key(store, role="reader", name="auth cost")[0]
    limiter, out = FailureLimiter(store), {}
    try:
        for ttl in (0.0, 5.0):
            cache = KeyCache(store, ttl_s=ttl)
            check_key(cache, limiter, "127.0.0.1", key)  # warm the pool (and the cache)
            w0, c0 = time.perf_counter(), time.process_time()
            for _ in range(n):
                check_key(cache, limiter, "127.0.0.1", key)
            out[f"ttl_{ttl:g}s"] = {"wall_us_per_check": round(1e6 * (time.perf_counter() - w0) / n, 1),
                                    "cpu_us_per_check_this_process": round(1e6 * (time.process_time() - c0) / n, 1)}
    finally:
        store.engine.dispose()
    return {"checks": n, "loadavg_1m": round(os.getloadavg()[0], 2), **out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", help="PostgreSQL URL of a server to create a scratch database on")
    ap.add_argument("--configs", nargs="+", default=["1", "2", "2:1"],
                    help="N (workers) or N:T (workers, FM_ONLINE_THREADS)")
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "load.json")
    ap.add_argument("--auth-only", action="store_true",
                    help="only time the per-request key check against a scratch database (→ auth_check.json)")
    args = ap.parse_args()
    server = args.db or os.environ.get("FM_TEST_POSTGRES_URL")
    if not server:  # a throwaway cluster for this run; it sets FM_TEST_POSTGRES_URL
        script = str(ROOT / "scripts" / "ci-postgres.sh")
        os.execv(script, [script, sys.executable, *sys.argv])

    from sqlalchemy import create_engine, make_url, text

    base = make_url(server)
    name = f"fm_load_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    runs: list[dict[str, Any]] = []
    if args.auth_only:
        try:
            res = {"benchmark": "bench_load --auth-only", "command": "python benchmarks/bench_load.py --auth-only",
                   "when": datetime.now(UTC).isoformat(timespec="seconds"),
                   "postgresql": auth_cost(url)}
            with tempfile.TemporaryDirectory(prefix="fm-auth-") as d:
                res["sqlite"] = auth_cost(f"sqlite:///{d}/auth.db")
        finally:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        out_path = args.out.parent / "auth_check.json"
        out_path.write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
        log(f"wrote {out_path}: {json.dumps(res)}")
        return
    try:
        with tempfile.TemporaryDirectory(prefix="fm-load-") as d:
            keys, texts = seed(url, Path(d))
            pg_pid = _postgres_pid(int(base.port or 5432))
            for r in range(args.rounds):
                order = args.configs if r % 2 == 0 else list(reversed(args.configs))
                for w in order:
                    runs.append({"round": r + 1, **run_config(url, w, args, keys, texts, Path(d), pg_pid)})
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    out = {
        "benchmark": "bench_load",
        "command": " ".join(["python benchmarks/bench_load.py", *sys.argv[1:]]),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "shared": True},
        "store": f"PostgreSQL {base.host}:{base.port} (scratch database)",
        "mix": dict(MIX),
        "batch_items": args.batch,
        "settings": "shipped defaults (int8 ONNX online model, FM_ONLINE_THREADS=2 per worker unless the config "
                    "says N:T, FM_KEY_CACHE_TTL_S=0)",
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
