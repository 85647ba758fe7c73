"""Concurrent writers and crash recovery on SQLite and PostgreSQL, with the real CLI and the real model.

    scripts/ci-postgres.sh .venv/bin/python benchmarks/bench_concurrent_ingest.py [--processes 8]
        [--per-file 500] [--overlap 100] [--kill-texts 250] [--claim-rounds 200] [--claimers 6]
        [--out benchmarks/results/concurrency.json]

Without ``FM_TEST_POSTGRES_URL`` (which scripts/ci-postgres.sh sets) only SQLite is measured.

1. ``--processes`` concurrent ``feedback-miner ingest`` processes, one CSV each of ``--per-file``
   distinct demo rows, the second also repeating ``--overlap`` rows of the first, into a fresh
   database: rows stored vs unique rows sent, exit codes, wall time.
2. ``kill -9`` of ``feedback-miner run`` as soon as its stderr shows the embedding, then the
   clustering progress line (``--kill-texts`` demo texts in the week), then the next run: the
   seconds from its launch until it held the lease (beside the same figure for the killed run,
   which had no dead run before it) and until it exited.
3. ``--claimers`` processes claiming the run lease together, ``--claim-rounds`` times: the rounds
   in which not exactly one claim (the lowest id) won.
The probes (tests/integration/concurrency_probes.py) are the ones tests/integration/test_concurrency.py asserts on.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
warnings.filterwarnings("ignore")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import log

from feedback_miner.adapters.store import open_store
from tests.conftest import POSTGRES_ENV, fresh_database
from tests.integration.concurrency_probes import (
    STAGES,
    claim_race,
    concurrent_ingest,
    kill_run_at,
    seed_week,
    write_ingest_files,
)


def measure(backend: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"backend": backend}
    d = work / backend
    d.mkdir()
    files = write_ingest_files(d, processes=args.processes, per_file=args.per_file, overlap=args.overlap)
    with fresh_database(backend, d, "ingest") as url:
        r = concurrent_ingest(url, files)
    out["ingest"] = {"processes": args.processes, "rows_in_files": r.sent, "unique_sent": r.unique_sent,
                     "stored": r.stored, "failed_processes": sum(1 for c in r.exit_codes if c != 0),
                     "seconds": round(r.seconds, 1)}
    log(f"{backend}: ingest {r.stored}/{r.unique_sent} stored, exits {r.exit_codes}, {r.seconds:.1f} s")
    for stage in STAGES:
        sd = d / stage
        sd.mkdir()
        with fresh_database(backend, sd, "kill") as url:
            seed_week(url, sd, per_week=args.kill_texts)
            k = kill_run_at(url, stage)
        later = [x for x in k.runs if x["id"] > k.killed_run["id"]]
        out[f"kill_{stage}"] = {
            "killed_status_after_kill": k.killed_run["status"], "digest_after_kill": k.digest_after_kill,
            "killed_status_after_next_run": next(x["status"] for x in k.runs if x["id"] == k.killed_run["id"]),
            "next_run_statuses": [x["status"] for x in later], "next_exit": k.next_exit,
            "next_claim_s": round(k.next_claim_s, 2), "first_claim_s": round(k.first_claim_s, 2),
            "next_total_s": round(k.next_total_s, 1)}
        log(f"{backend}: kill -9 at {stage}: {out[f'kill_{stage}']}")
    with fresh_database(backend, d, "claims") as url:
        open_store(url).engine.dispose()
        bad = claim_race(url, rounds=args.claim_rounds, claimers=args.claimers)
    out["claims"] = {"rounds": args.claim_rounds, "claimers": args.claimers, "bad_rounds": len(bad),
                     "examples": bad[:3]}
    log(f"{backend}: simultaneous claims: {len(bad)} of {args.claim_rounds} rounds without exactly one winner")
    return out


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| backend | ingest: stored / unique sent (rows in files) | failed processes | ingest s "
             "| kill -9 at embedding: next run holds the lease after (killed run: after), exits after "
             "| kill -9 at clustering: same | lease claims: rounds without one winner |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        i, c = r["ingest"], r["claims"]
        kills = []
        for stage in STAGES:
            k = r[f"kill_{stage}"]
            ok = k["next_exit"] == 0 and k["next_run_statuses"] == ["done"]
            kills.append(f"{k['next_claim_s']:.2f} s ({k['first_claim_s']:.2f} s), {k['next_total_s']:.1f} s"
                         f"{'' if ok else ' FAILED'}")
        lines.append(f"| {r['backend']} | {i['stored']:,} / {i['unique_sent']:,} ({i['rows_in_files']:,}) "
                     f"| {i['failed_processes']} of {i['processes']} | {i['seconds']:.1f} | {kills[0]} | {kills[1]} "
                     f"| {c['bad_rounds']} of {c['rounds']} ({c['claimers']} claimers) |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--processes", type=int, default=8)
    ap.add_argument("--per-file", type=int, default=500)
    ap.add_argument("--overlap", type=int, default=100)
    ap.add_argument("--kill-texts", type=int, default=250)
    ap.add_argument("--claim-rounds", type=int, default=200)
    ap.add_argument("--claimers", type=int, default=6)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "concurrency.json")
    args = ap.parse_args()
    backends = ["sqlite"] + (["postgresql"] if os.environ.get(POSTGRES_ENV) else [])
    if len(backends) == 1:
        log(f"{POSTGRES_ENV} is not set: PostgreSQL not measured (run through scripts/ci-postgres.sh)")
    with tempfile.TemporaryDirectory(prefix="fm-bench-conc-") as tmp:
        results = [measure(b, args, Path(tmp)) for b in backends]
    print(table(results))
    args.out.write_text(json.dumps({"args": {k: v for k, v in vars(args).items() if k != "out"},
                                    "results": results}, indent=2, default=str) + "\n")
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
