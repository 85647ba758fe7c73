"""Concurrency and crash recovery on every SQL backend (the root conftest's ``db_url``/``store``:
SQLite, and PostgreSQL when ``FM_TEST_POSTGRES_URL`` is set, always in CI).

Migrations on a fresh and an existing database, idempotent upserts (also from 8 threads at once),
the run lease (a dead owner process on this host or a stale heartbeat is taken over, a live owner
keeps it, simultaneous claims: the lower id wins), 8 concurrent ``feedback-miner ingest`` processes
(the real CLI, one file each, two of them overlapping) into a fresh database, and ``kill -9`` of a
``feedback-miner run`` at the embedding and at the clustering stage followed by a run that takes
the lease over at once. The process probes live in ``concurrency_probes.py`` (the benchmark
``benchmarks/bench_concurrent_ingest.py`` measures with the same ones).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from feedback_miner.adapters import tables as t
from feedback_miner.adapters.store import DEFAULT_STALE_S, Store, open_store
from feedback_miner.domain.types import FeedbackItem
from feedback_miner.errors import ConflictError
from feedback_miner.services.lease import run_owner
from tests.integration.concurrency_probes import (
    STAGES,
    WEEK,
    claim_race,
    concurrent_ingest,
    kill_run_at,
    seed_week,
    write_ingest_files,
)


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
    with pytest.raises(ConflictError, match=f"already in progress \\(run {other} "):
        store.claim_run(WEEK, owner=run_owner())
    with store.tx() as c:  # a refused claim writes nothing
        assert c.execute(select(func.count()).select_from(t.runs)).scalar_one() == 1
    store.heartbeat(other)
    with store.tx() as c:  # its last beat was longer ago than the stale bound
        c.execute(t.runs.update().where(t.runs.c.id == other).values(
            heartbeat_at=datetime.fromtimestamp(time.time() - DEFAULT_STALE_S - 5, UTC)))
    mine = store.claim_run(WEEK, owner=run_owner())
    assert _run_row(store, other)["status"] == "abandoned"
    live = store.running_run()
    assert live is not None and live.id == mine

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
