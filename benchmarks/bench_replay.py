"""Replay benchmark: emerging-problem detection and problem-id stability over 13 months of real reviews.

    python benchmarks/bench_replay.py [--weeks N] [--out benchmarks/results/replay.json]
                                      [--data ../shared/data] [--quick] [--vector-cache PATH]

Background: the 5,000 dated YouTube app reviews of ``idea_youtube_reviews`` (2016-W09 … 2017-W14),
ingested into a fresh SQLite store (temp dir) with source "replay", a stable external id per row,
``rating`` and ``app_version`` (``Unknown`` → none). Planted spikes: from a chosen ISO week on, ``k``
texts a week of ONE labelled intent (banking77 / bitext / review_pulse), drawn without replacement
(``random.Random(seed)``), spread over the week. ``run_week`` (real MiniLM embedder, shipped
classifier, default settings unless a sweep run says otherwise) is called for every week in order;
after each week the digest's ``new_and_growing`` list is the set of emerging alerts.

Metrics (per run):

* detection — a spike is detected in a week when an alert's problem has >= 50% of its members that
  week from that spike (``problem_members``). Recall in the spike's first week and by its second.
  Also reported, not scored: "lenient" detection (an alert's problem holds >= 50% of the spike's
  texts that week, whatever else it holds — a spike absorbed by a growing background problem).
* false alerts — alerts whose problem is not mainly (>= 50%) planted texts, per week after the
  warm-up (the first ``baseline_weeks`` weeks of the replay, when every problem is necessarily new),
  reported per 10 weeks; broken down by status and size.
* id stability — per spike, the problem holding most of its texts each week ("majority id"); the
  share of consecutive spike weeks whose majority id is unchanged. Background continuity: new
  background ids per week and the share of clustered background texts whose id existed before.
* spike size vs baseline — the median weekly member count of background problems (problem-weeks
  after the warm-up) — reported as the ratio ``k / median`` for each spike.

Runs: ``given`` (planted texts carry their category6, so the benchmark measures detection, not
classification) and ``predicted`` (no given categories: the classifier decides) with default
settings, then (unless ``--quick``) a sweep on ``given``: match_threshold, baseline_weeks and
ClusterParams alternatives. For every run, a what-if re-assessment of the stored weekly counts
with other emerging rules (``assess_trend`` thresholds, the digest's gate on ``new``) — cheap, no
re-clustering. Embedding is done once per process (optionally cached across invocations with
``--vector-cache``) and the vectors are put into each fresh store's cache.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
warnings.filterwarnings("ignore")

import numpy as np
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import T0, log
from replay_eval import evaluate
from replay_plan import MAIN_RUNS, SEED, SPIKES, SWEEP_RUNS, RunConfig, background_items, embed_all, spike_items
from replay_report import _sha256, code_state, print_summary

from feedback_miner.adapters import tables as t
from feedback_miner.adapters.store import Store, open_store
from feedback_miner.domain.types import FeedbackItem
from feedback_miner.domain.weeks import week_of, weeks_between
from feedback_miner.services.weekly import RunOptions, run_week
from feedback_miner.stages.cluster import ClusterParams

# --------------------------------------------------------------------------- one replay


def _template(items: Sequence[FeedbackItem], given: bool, vectors: dict[str, np.ndarray], embedder: Any,
              workdir: Path) -> Path:
    """A store with every item and every vector in it, made once per category mode and copied per run."""
    db = workdir / f"template-{'given' if given else 'predicted'}.db"
    if db.exists():
        return db
    t1 = time.perf_counter()
    store = open_store(f"sqlite:///{db}")
    store.put_vectors(embedder.model_id, vectors)
    for it in items:
        if not given and it.category is not None:
            it = FeedbackItem(**{**asdict(it), "category": None})
        store.upsert_feedback(it)
    store.engine.dispose()  # the last connection closing checkpoints the WAL into the file
    log(f"ingested {len(items)} items ({'given' if given else 'no'} categories for planted texts) "
        f"in {time.perf_counter() - t1:.0f}s")
    return db


def _centroids(store: Store) -> dict[str, tuple[str, np.ndarray]]:
    with store.tx() as c:
        return {r["id"]: (r["category"], np.frombuffer(r["centroid"], np.float32).copy())
                for r in c.execute(select(t.problems).where(t.problems.c.merged_into.is_(None))).mappings()}


def replay(cfg: RunConfig, items: Sequence[FeedbackItem], weeks: Sequence[str], vectors: dict[str, np.ndarray],
           embedder: Any, clf: Any, clf_version: str, workdir: Path) -> dict[str, Any]:
    db = workdir / f"{cfg.name}.db"
    template = _template(items, cfg.given_categories, vectors, embedder, workdir)
    for suffix in ("", "-wal"):
        if Path(f"{template}{suffix}").exists():
            shutil.copy(f"{template}{suffix}", f"{db}{suffix}")
    store = open_store(f"sqlite:///{db}")
    params = ClusterParams(**cfg.params) if cfg.params else None
    alerts: dict[str, list[dict[str, Any]]] = {}
    week_time: dict[str, float] = {}
    digests_counts: dict[str, dict[str, Any]] = {}
    t_replay = time.perf_counter()
    for n, w in enumerate(weeks, 1):
        t2 = time.perf_counter()
        before = _centroids(store)
        run_week(store, embedder, clf, week=w, classifier_version=clf_version,
                 options=RunOptions(params=params, baseline_weeks=cfg.baseline_weeks,
                                    match_threshold=cfg.match_threshold))
        d = store.get_digest(w) or {}
        after = _centroids(store)
        present = {p["id"] for p in d.get("top_problems", [])} | {p["id"] for p in d.get("new_and_growing", [])}
        with store.tx() as c:
            present |= {p for (p,) in c.execute(select(t.problem_weeks.c.problem_id).where(t.problem_weeks.c.week == w))}
        alerts[w] = []
        for p in d.get("new_and_growing", []):
            a = {"id": p["id"], "status": p.get("status"), "size": p["size"], "title": p["title"],
                 "category": p["category"], "trend": p.get("trend")}
            if p["id"] not in before and p["id"] in after:  # a new id: how close was the nearest known problem?
                cat, vec = after[p["id"]]
                sims = [(float(vec @ v / max(1e-12, np.linalg.norm(vec) * np.linalg.norm(v))), k)
                        for k, (kc, v) in before.items() if kc == cat]
                if sims:
                    sim, k = max(sims)
                    a["nearest_known"] = {"id": k, "cosine": round(sim, 3), "present_this_week": k in present}
            alerts[w].append(a)
        digests_counts[w] = d.get("counts", {})
        week_time[w] = time.perf_counter() - t2
        log(f"[{cfg.name}] week {n:2d}/{len(weeks)} {w}: {digests_counts[w].get('analysed', 0):3d} texts, "
            f"{digests_counts[w].get('problems', 0):2d} problems, {len(alerts[w])} alerts "
            f"({week_time[w]:.1f}s, replay {time.perf_counter() - t_replay:.0f}s)")
    replay_s = time.perf_counter() - t_replay
    result = evaluate(cfg, store, weeks, alerts, digests_counts, vectors)
    result["time_s"] = {"replay": round(replay_s, 1), "per_week_mean": round(replay_s / max(1, len(weeks)), 2),
                        "per_week_max": round(max(week_time.values(), default=0.0), 2)}
    store.engine.dispose()
    return result


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--weeks", type=int, default=0, help="replay only the last N weeks (0 = all)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "replay.json")
    ap.add_argument("--quick", action="store_true", help="only the two main runs (no settings sweep)")
    ap.add_argument("--runs", default="", help="comma-separated run names to do (default: all)")
    ap.add_argument("--vector-cache", type=Path, default=None, help="npz of embeddings reused across invocations")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--classifier-version", default=None, help="classifier version under models/classifier (default: CURRENT)")
    ap.add_argument("--keep-stores", type=Path, default=None, help="keep each run's SQLite store in this folder")
    args = ap.parse_args(argv)
    started = datetime.now(UTC)
    code_before = code_state()

    from feedback_miner.adapters.artefacts import load_classifier
    from feedback_miner.adapters.embedders import SentenceTransformerEmbedder

    bg = background_items(args.data)
    planted, pool_sizes = spike_items(args.data, SPIKES, {i.text.strip() for i in bg}, args.seed)
    all_weeks = sorted({week_of(i.created_at) for i in bg})
    weeks = weeks_between(all_weeks[0], all_weeks[-1])
    if args.weeks and args.weeks < len(weeks):
        weeks = weeks[-args.weeks:]
    wset = set(weeks)
    items = [i for i in [*bg, *planted] if week_of(i.created_at) in wset]
    skipped = [s.name for s in SPIKES if s.start not in wset]
    log(f"{len(bg)} background reviews, {len(planted)} planted texts; replaying {len(weeks)} weeks "
        f"{weeks[0]} … {weeks[-1]} ({len(items)} items){'; spikes outside: ' + ', '.join(skipped) if skipped else ''}")

    embedder = SentenceTransformerEmbedder()
    clf, manifest = load_classifier(ROOT / "models" / "classifier", args.classifier_version)
    t_embed = time.perf_counter()
    from_cache = bool(args.vector_cache and args.vector_cache.exists())
    vectors = embed_all([i.text for i in items], embedder, args.vector_cache)
    embed_s = time.perf_counter() - t_embed

    runs = list(MAIN_RUNS) + ([] if args.quick else list(SWEEP_RUNS))
    known_fields = set(ClusterParams.__dataclass_fields__)
    unsupported = [r.name for r in runs if set(r.params) - known_fields]
    runs = [r for r in runs if r.name not in unsupported]
    if args.runs:
        wanted = set(args.runs.split(","))
        runs = [r for r in runs if r.name in wanted]
    results = []
    workdir = Path(tempfile.mkdtemp(prefix="fm-replay-"))
    if args.keep_stores:
        args.keep_stores.mkdir(parents=True, exist_ok=True)
    try:
        for cfg in runs:
            log(f"=== run {cfg.name}: {cfg}")
            results.append(replay(cfg, items, weeks, vectors, embedder, clf, manifest["version"], workdir))
            if args.keep_stores:
                shutil.copy(workdir / f"{cfg.name}.db", args.keep_stores / f"{cfg.name}.db")
            print_summary(results[-1])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    code_after = code_state()
    if code_after["fingerprint"] != code_before["fingerprint"]:
        log("WARNING: product code or classifier changed during the run; modules imported before the change were used")
    report = {
        "benchmark": "replay: emerging problems and id stability",
        "generated_at": started.isoformat(timespec="seconds"),
        "command": "python benchmarks/bench_replay.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "settings": {
            "background": "idea_youtube_reviews (5,000 lemmatised YouTube app reviews), week by week by timestamp",
            "weeks": {"first": weeks[0], "last": weeks[-1], "n": len(weeks)},
            "items": len(items), "planted": sum(1 for i in items if i.external_id.startswith("spike-")),
            "spikes": [{**asdict(s), "weeks": s.weeks, "distinct_texts_available": pool_sizes[s.name]} for s in SPIKES],
            "spikes_outside_replay": skipped,
            "detection_rule": "an alert (digest new_and_growing) whose problem has >= 50% of its members that week from the spike",
            "false_alert_rule": "an alert whose problem is < 50% planted texts; counted over weeks after the warm-up (first baseline_weeks weeks)",
            "embedder": embedder.model_id, "classifier_version": manifest["version"],
            "classifier_weights_sha256": _sha256(ROOT / "models" / "classifier" / str(manifest["version"]) / "weights.npz"),
            "seed": args.seed,
            "ingest": "all items ingested up front (run_week only reads its own and earlier weeks, so this equals week-by-week ingestion)",
        },
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "code": {**code_before, "fingerprint_at_end": code_after["fingerprint"], "git_head_at_end": code_after["git_head"],
                 "changed_during_run": code_after["fingerprint"] != code_before["fingerprint"],
                 "runs_skipped_unsupported_params": unsupported},
        "runs": results,
        "wall_time_s": {"total": round(time.perf_counter() - T0, 1), "embedding": round(embed_s, 1),
                        "vectors_from_cache": from_cache},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"wrote {args.out}")
    print("\nrun                   recall1 recall2 recall1(3x) false/10wk id-stab  bg-new-ids/wk merges")
    for r in results:
        s = r["summary"]
        print(f"{r['config']['name']:<21} {s['recall_first_week']:7.2f} {s['recall_by_second_week']:7.2f} "
              f"{(s['recall_first_week_3x'] if s['recall_first_week_3x'] is not None else float('nan')):11.2f} "
              f"{s['false_alerts_per_10_weeks']:10.2f} {(s['spike_id_stability'] or 0):7.2f} "
              f"{s['background_new_ids_per_week']:13.2f} {s['merges']:6d}")
    return 0



if __name__ == "__main__":
    raise SystemExit(main())
