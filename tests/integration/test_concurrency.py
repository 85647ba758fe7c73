"""Concurrency and crash recovery on every SQL backend (the root conftest's ``db_url``/``store``:
SQLite, and PostgreSQL when ``FM_TEST_POSTGRES_URL`` is set, always in CI).

Migrations on a fresh and an existing database, idempotent upserts (also from 8 threads at once),
the run lease (a dead owner process on this host or a stale heartbeat is taken over, a live owner
keeps it, simultaneous claims: the lower id wins), 8 concurrent ``feedback-miner ingest`` processes
(the real CLI, one file each, two of them overlapping) into a fresh database, and ``kill -9`` of a
``feedback-miner run`` at the embedding and at the clustering stage followed by a run that takes
the lease over at once. The probe functions are shared with ``benchmarks/bench_concurrent_ingest.py``.
"""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from feedback_miner.adapters import tables as t
from feedback_miner.adapters.store import DEFAULT_STALE_S, Store, open_store
from feedback_miner.demo.generate import generate_demo, write_demo_csv
from feedback_miner.domain.types import FeedbackItem
from feedback_miner.errors import ConflictError
from feedback_miner.services.lease import run_owner

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


# -- tests: migrations and upserts -----------------------------------------------------------------
def _head_revision() -> str:
    from alembic.script import ScriptDirectory

    import feedback_miner.adapters.store as store_module

    script = ScriptDirectory(str(Path(store_module.__file__).parent / "migrations"))
    head = script.get_current_head()
    assert head is not None
    return head


def _revision(store: Store) -> str:
    with store.tx() as c:
        return str(c.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


def _item(n: int, **kw: Any) -> FeedbackItem:
    return FeedbackItem(text=f"the app crashes on checkout ({n})", source="t", external_id=f"id-{n}",
                        created_at=datetime(2026, 11, 10, 9, tzinfo=UTC), **kw)


def test_migrations_create_the_schema_and_reopening_is_a_no_op(db_url: str) -> None:
    store = open_store(db_url)
    assert _revision(store) == _head_revision()
    assert store.upsert_feedback(_item(1)) == (1, "stored")
    store.engine.dispose()
    again = open_store(db_url)  # upgrade at head: nothing to do, nothing lost
    try:
        assert _revision(again) == _head_revision() and again.count_feedback() == 1
    finally:
        again.engine.dispose()


def test_upserts_are_idempotent_and_update_ticket_fields(store: Store) -> None:
    fid, outcome = store.upsert_feedback(_item(1))
    assert outcome == "stored"
    assert store.upsert_feedback(_item(1)) == (fid, "duplicate")
    assert store.upsert_feedback(_item(1, ticket_status="solved")) == (fid, "updated")
    assert store.upsert_feedback(_item(1, ticket_status="solved")) == (fid, "duplicate")
    assert store.count_feedback() == 1


def test_the_same_ids_from_eight_threads_are_stored_once(store: Store) -> None:
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    failures: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            outcomes.extend(store.upsert_feedback(_item(n))[1] for n in range(40))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not failures, failures
    assert outcomes.count("stored") == 40 and outcomes.count("duplicate") == 7 * 40
    assert store.count_feedback() == 40


# -- tests: the run lease --------------------------------------------------------------------------
def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _run_row(store: Store, run_id: int) -> dict[str, Any]:
    with store.tx() as c:
        return dict(c.execute(select(t.runs).where(t.runs.c.id == run_id)).mappings().one())


def test_a_dead_owner_on_this_host_is_taken_over(store: Store) -> None:
    dead = store.claim_run(WEEK, owner=f"{socket.gethostname()}:{_dead_pid()}")
    mine = store.claim_run(WEEK, owner=run_owner())
    assert mine > dead
    row = _run_row(store, dead)
    assert row["status"] == "abandoned" and f"taken over by {run_owner()}" in row["error"]
    live = store.running_run()
    assert live is not None and live.id == mine


def test_a_stale_heartbeat_is_taken_over_and_a_live_owner_keeps_the_lease(store: Store) -> None:
    other = store.claim_run(WEEK, owner="another-host:1")  # a pid this host cannot check: only the heartbeat counts
    with pytest.raises(ConflictError, match="already in progress"):
        store.claim_run(WEEK, owner=run_owner())
    refused = _run_row(store, other + 1)
    assert refused["status"] == "refused" and f"run {other}" in refused["error"]
    store.heartbeat(other)
    with store.tx() as c:  # its last beat was longer ago than the stale bound
        c.execute(t.runs.update().where(t.runs.c.id == other).values(
            heartbeat_at=datetime.fromtimestamp(time.time() - DEFAULT_STALE_S - 5, UTC)))
    mine = store.claim_run(WEEK, owner=run_owner())
    assert _run_row(store, other)["status"] == "abandoned"
    live = store.running_run()
    assert live is not None and live.id == mine


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


def test_simultaneous_claims_the_lower_id_wins(db_url: str) -> None:
    """Six processes claim the lease together, 60 times: each time exactly one holds it, the lowest id."""
    open_store(db_url).engine.dispose()  # the schema exists before the claimers start
    bad = claim_race(db_url, rounds=60, claimers=6)
    assert not bad, f"{len(bad)} of 60 rounds:\n" + "\n".join(bad)


def test_a_claim_that_commits_late_still_wins_over_a_later_one(store: Store) -> None:
    """The race behind the rule, made certain: claim A has inserted its run (the lower id) but not yet
    committed when claim B inserts, commits and checks. Only one of them may hold the lease."""
    from sqlalchemy import event

    a_inserted = threading.Event()

    def slow_commit(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.current_thread().name == "claim-a" and statement.lstrip().upper().startswith("INSERT INTO RUNS"):
            a_inserted.set()
            time.sleep(1.0)  # A's transaction stays open: B runs its whole claim meanwhile

    event.listen(store.engine, "after_cursor_execute", slow_commit)
    results: dict[str, int | str] = {}

    def claim(name: str) -> None:
        try:
            results[name] = store.claim_run(WEEK, owner=run_owner())
        except ConflictError as exc:
            results[name] = f"refused: {exc}"

    a = threading.Thread(target=claim, args=("a",), name="claim-a")
    b = threading.Thread(target=claim, args=("b",), name="claim-b")
    a.start()
    assert a_inserted.wait(30)
    b.start()
    a.join()
    b.join()
    event.remove(store.engine, "after_cursor_execute", slow_commit)
    winners = {k: v for k, v in results.items() if isinstance(v, int)}
    assert list(winners) == ["a"], f"exactly claim A (the lower id) holds the lease: {results}"
    live = store.running_run()
    assert live is not None and live.id == winners["a"]


# -- tests: processes of the real CLI --------------------------------------------------------------
def _report(out_dir: Path, line: str) -> None:
    """Measured figures go to the test's output (``pytest -s``/``-rP``) and to concurrency.txt in out_dir."""
    print(line)
    with (out_dir / "concurrency.txt").open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")


@pytest.mark.slow
def test_eight_concurrent_ingest_processes_lose_nothing(db_url: str, db_backend: str, tmp_path: Path,
                                                         out_dir: Path) -> None:
    files = write_ingest_files(tmp_path, processes=8, per_file=500, overlap=100)
    r = concurrent_ingest(db_url, files)
    _report(out_dir, f"[{db_backend}] 8 concurrent ingest processes into a fresh database: {r.stored} rows stored "
                     f"of {r.unique_sent} unique sent ({r.sent} rows in the files), exits {r.exit_codes}, {r.seconds:.1f} s")
    assert r.exit_codes == [0] * 8, "\n".join(r.errors)
    assert r.stored == r.unique_sent == 4000
    assert all(s.endswith("0 rejected") for s in r.summaries), r.summaries
    assert sum(int(s.split(": ")[1].split(" stored")[0]) for s in r.summaries) == r.unique_sent
    assert sum(int(s.split(", ")[2].split(" duplicates")[0]) for s in r.summaries) == r.sent - r.unique_sent


@pytest.mark.slow
@pytest.mark.parametrize("stage", list(STAGES))
def test_kill_9_during_a_run_then_the_next_run_takes_over_at_once(stage: str, db_url: str, db_backend: str,
                                                                  tmp_path: Path, out_dir: Path) -> None:
    assert seed_week(db_url, tmp_path, per_week=250) > 200
    r = kill_run_at(db_url, stage)
    killed = r.killed_run
    # The kill landed inside the run: its row still says running, owned by the killed process; nothing written.
    assert killed["status"] == "running" and not r.digest_after_kill
    _report(out_dir, f"[{db_backend}] kill -9 at {stage}: next run claimed the lease {r.next_claim_s:.2f} s after "
                     f"launch (the killed run, with no dead run before it: {r.first_claim_s:.2f} s), "
                     f"exit {r.next_exit} after {r.next_total_s:.1f} s")
    assert r.next_exit == 0, r.next_stderr[-3000:]
    by_id = {x["id"]: x for x in r.runs}
    dead = by_id[killed["id"]]
    assert dead["status"] == "abandoned" and "stopped without finishing" in dead["error"]
    assert [x["status"] for x in r.runs if x["id"] > killed["id"]] == ["done"], "taken over, not refused"
    # Taken over because its process is gone, not because its heartbeat went stale.
    beat, gone = (x if x.tzinfo else x.replace(tzinfo=UTC) for x in (dead["heartbeat_at"], dead["finished_at"]))
    assert (gone - beat).total_seconds() < DEFAULT_STALE_S
    store = open_store(db_url)
    try:
        digest = store.get_digest(WEEK)
        assert digest is not None and digest["counts"]["analysed"] > 200
    finally:
        store.engine.dispose()
