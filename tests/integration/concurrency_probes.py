"""Probes of concurrent writers and crash recovery, run as real processes of the real CLI; asserted on by
``tests/integration/test_concurrency.py`` and measured by ``benchmarks/bench_concurrent_ingest.py``.

* :func:`concurrent_ingest`: one ``feedback-miner ingest`` process per file, all at once, into one database;
* :func:`kill_run_at`: ``kill -9`` of ``feedback-miner run`` when its stderr shows a stage's progress line,
  then the next run, timed;
* :func:`claim_race`: processes claiming the run lease together, round after round.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from feedback_miner.adapters import tables as t
from feedback_miner.adapters.store import open_store
from feedback_miner.demo.generate import generate_demo, write_demo_csv
from feedback_miner.errors import ConflictError
from feedback_miner.services.lease import run_owner

__all__ = ["CLI", "STAGES", "WEEK", "IngestResult", "KillResult", "claim_race", "cli_env", "concurrent_ingest",
           "kill_run_at", "seed_week", "write_ingest_files"]

WEEK = "2026-W46"
EXE = Path(sys.executable).with_name("feedback-miner")  # the installed console script: the real CLI
CLI = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "feedback_miner.cli"]
STAGES = {"embedding": "Embedding ", "clustering": "Clustering categories"}  # progress lines on stderr


def cli_env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


# -- 8 concurrent ingest processes -----------------------------------------------------------------
@dataclass
class IngestResult:
    sent: int  # rows in all files
    unique_sent: int  # distinct (source, external_id) over all files
    stored: int  # rows in the store afterwards
    exit_codes: list[int]
    summaries: list[str]
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def write_ingest_files(directory: Path, *, processes: int, per_file: int, overlap: int) -> list[Path]:
    """``processes`` CSV files of ``per_file`` distinct demo rows; the second file also repeats the
    first ``overlap`` rows of the first (same source and external id)."""
    rows = generate_demo(weeks=4, end_week=WEEK, seed=11, per_week=processes * per_file // 4 + 50)
    if len(rows) < processes * per_file:
        raise AssertionError(f"demo gave {len(rows)} rows, need {processes * per_file}")
    parts = [rows[k * per_file:(k + 1) * per_file] for k in range(processes)]
    parts[1] = parts[1] + parts[0][:overlap]
    paths = []
    for k, part in enumerate(parts):
        p = directory / f"ingest-{k}.csv"
        with p.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(part[0]))
            w.writeheader()
            w.writerows(part)
        paths.append(p)
    return paths


def concurrent_ingest(db_url: str, files: list[Path]) -> IngestResult:
    """One ``feedback-miner ingest FILE --db URL`` process per file, all started at once, on a fresh database."""
    keys: list[tuple[str, str]] = []
    for f in files:
        with f.open(encoding="utf-8", newline="") as fh:
            keys += [(r["source"], r["external_id"]) for r in csv.DictReader(fh)]
    t0 = time.perf_counter()
    procs = [subprocess.Popen([*CLI, "ingest", str(f), "--db", db_url], env=cli_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for f in files]
    outs = [p.communicate(timeout=600) for p in procs]
    seconds = time.perf_counter() - t0
    store = open_store(db_url)
    try:
        stored = store.count_feedback()
    finally:
        store.engine.dispose()
    return IngestResult(sent=len(keys), unique_sent=len(set(keys)), stored=stored,
                        exit_codes=[p.returncode for p in procs], summaries=[o.strip() for o, _ in outs],
                        errors=[e.strip() for _, e in outs if e.strip()], seconds=seconds)


# -- kill -9 of a run at a stage -------------------------------------------------------------------
@dataclass
class KillResult:
    stage: str
    killed_run: dict[str, Any]  # the killed run's row right after the kill
    first_claim_s: float  # launch → lease claimed, for the run that was killed (no dead run before it)
    next_claim_s: float  # launch → lease claimed, for the run after the kill (the lease's wait included)
    next_total_s: float  # launch → exit of the run after the kill
    next_exit: int
    next_stderr: str
    digest_after_kill: bool
    runs: list[dict[str, Any]]  # every runs row at the end


def seed_week(db_url: str, directory: Path, per_week: int) -> int:
    """Ingest one demo week into the store (in process); returns the number of rows stored."""
    from feedback_miner.adapters.readers import read_rows
    from feedback_miner.stages.ingest import ColumnMapping, IngestReport, parse_rows

    path = directory / "week.csv"
    write_demo_csv(path, weeks=1, end_week=WEEK, per_week=per_week)
    store = open_store(db_url)
    try:
        for item in parse_rows(read_rows(path), ColumnMapping(), default_source="demo", report=IngestReport()):
            store.upsert_feedback(item)
        return store.count_feedback()
    finally:
        store.engine.dispose()


def _runs(db_url: str) -> list[dict[str, Any]]:
    store = open_store(db_url)
    try:
        with store.tx() as c:
            return [dict(r) for r in c.execute(select(t.runs).order_by(t.runs.c.id)).mappings()]
    finally:
        store.engine.dispose()


def _claim_delay(run: dict[str, Any], launched: float) -> float:
    started: datetime = run["started_at"]
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return started.timestamp() - launched


def kill_run_at(db_url: str, stage: str, *, timeout: float = 600) -> KillResult:
    """Start ``feedback-miner run``, SIGKILL it as soon as its stderr shows ``stage``'s progress line,
    then start the next run and time it."""
    marker = STAGES[stage]
    cmd = [*CLI, "run", "--week", WEEK, "--db", db_url]
    launched = time.time()
    seen: list[str] = []
    with subprocess.Popen(cmd, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
        watchdog = threading.Timer(timeout, proc.kill)
        watchdog.start()
        try:
            assert proc.stderr is not None
            for line in proc.stderr:
                seen.append(line)
                if marker in line:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
            proc.wait()
        finally:
            watchdog.cancel()
    if proc.returncode != -signal.SIGKILL or not any(marker in s for s in seen):
        raise AssertionError(f"the run never reached {stage} (exit {proc.returncode}): {''.join(seen)[-2000:]}")
    killed = _runs(db_url)[-1]
    store = open_store(db_url)
    try:
        digest_after_kill = store.get_digest(WEEK) is not None
    finally:
        store.engine.dispose()
    launched2 = time.time()
    nxt = subprocess.run(cmd, env=cli_env(), capture_output=True, text=True, timeout=timeout)
    total = time.time() - launched2
    runs = _runs(db_url)
    later = [r for r in runs if r["id"] > killed["id"]]
    return KillResult(stage=stage, killed_run=killed, first_claim_s=_claim_delay(killed, launched),
                      next_claim_s=_claim_delay(later[0], launched2) if later else float("nan"), next_total_s=total,
                      next_exit=nxt.returncode, next_stderr=nxt.stderr, digest_after_kill=digest_after_kill, runs=runs)



def _claimer(url: str, rounds: int, barrier: Any, results: Any) -> None:
    store = open_store(url)
    try:
        for r in range(rounds):
            barrier.wait()
            try:
                results.put((r, store.claim_run(WEEK, owner=run_owner())))
            except ConflictError:
                results.put((r, None))
            barrier.wait()  # every claim of this round is made
            barrier.wait()  # the round is checked and cleared
    finally:
        store.engine.dispose()


def claim_race(url: str, *, rounds: int, claimers: int) -> list[str]:
    """``claimers`` processes claim the lease together, ``rounds`` times; returns the rounds in which
    not exactly one claim won, or the winner was not the lowest id of the round."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # children open their own connections
    barrier, results = ctx.Barrier(claimers + 1), ctx.Queue()
    procs = [ctx.Process(target=_claimer, args=(url, rounds, barrier, results)) for _ in range(claimers)]
    for p in procs:
        p.start()
    store = open_store(url)
    bad: list[str] = []
    try:
        for r in range(rounds):
            barrier.wait(timeout=120)
            barrier.wait(timeout=120)
            won = [i for _, i in (results.get(timeout=60) for _ in range(claimers)) if i is not None]
            with store.tx() as c:
                ids = [int(i) for (i,) in c.execute(select(t.runs.c.id).where(t.runs.c.status.in_(["running", "refused"])))]
                c.execute(t.runs.update().where(t.runs.c.status.in_(["running", "refused"])).values(status="done"))
            if len(won) != 1 or won[0] != min(ids):
                bad.append(f"round {r}: {claimers} claims at once, winners {sorted(won)}, ids {sorted(ids)}")
            barrier.wait(timeout=120)
    finally:
        for p in procs:
            p.join(timeout=60)
        store.engine.dispose()
    return bad
