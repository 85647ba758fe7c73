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
import csv
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
from sqlalchemy import select  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from feedback_miner.adapters import tables as t  # noqa: E402
from feedback_miner.adapters.store import Store, open_store  # noqa: E402
from feedback_miner.domain.trends import assess_trend  # noqa: E402
from feedback_miner.domain.types import FeedbackItem  # noqa: E402
from feedback_miner.domain.weeks import shift_week, week_bounds, week_of, weeks_between  # noqa: E402
from feedback_miner.stages.cluster import ClusterParams  # noqa: E402
from feedback_miner.stages.embed import text_hash  # noqa: E402
from feedback_miner.services.weekly import run_week  # noqa: E402

from _common import T0, log, read_csv  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
SEED = 0
SOURCE = "replay"






# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Spike:
    name: str
    dataset: str
    label: str
    category: str
    per_week: int
    start: str
    n_weeks: int
    note: str = ""

    @property
    def weeks(self) -> list[str]:
        return [shift_week(self.start, i) for i in range(self.n_weeks)]


# Start weeks spread over the busy part of the replay (2016-W32 on: 25–600 reviews a week), sizes
# 6–25 a week, 3–4 weeks each, non-overlapping. The last spike is deliberately hard: crash reports
# from another app, the same theme as much of the (technical) background.
SPIKES: tuple[Spike, ...] = (
    Spike("card_arrival", "banking77", "card_arrival", "shipping", 6, "2016-W36", 4),
    Spike("charged_twice", "banking77", "transaction_charged_twice", "payment", 10, "2016-W41", 4),
    Spike("passcode_forgotten", "banking77", "passcode_forgotten", "account", 15, "2016-W47", 3),
    Spike("track_order", "bitext_customer_support", "track_order", "shipping", 25, "2016-W51", 4),
    Spike("get_refund", "bitext_customer_support", "get_refund", "payment", 25, "2017-W06", 3,
          "starts in the background's own volume surge (550-600 reviews/week)"),
    Spike("app_crashes", "review_pulse", "Crashing Issues", "technical", 25, "2017-W10", 4,
          "hard: same theme as the technical background (video app crashes)"),
)


@dataclass(frozen=True)
class RunConfig:
    name: str
    given_categories: bool = True
    match_threshold: float = 0.8
    baseline_weeks: int = 6
    params: dict[str, Any] = field(default_factory=dict)  # ClusterParams overrides
    note: str = ""


MAIN_RUNS = (
    RunConfig("given", note="default settings; planted texts carry their category6"),
    RunConfig("predicted", given_categories=False, note="default settings; no given categories, classifier decides"),
)
SWEEP_RUNS = (
    RunConfig("given_match0.75", match_threshold=0.75),
    RunConfig("given_match0.7", match_threshold=0.7),
    RunConfig("given_match0.9", match_threshold=0.9),
    RunConfig("given_baseline8", baseline_weeks=8),
    RunConfig("given_mcs5", params={"min_cluster_size": 5}),
    RunConfig("given_mcs3", params={"min_cluster_size": 3}, note="the pre-67ca6c0 floor: a 6-text group can form a cluster"),
    RunConfig("given_match0.75_mcs5", match_threshold=0.75, params={"min_cluster_size": 5}),
)


# --------------------------------------------------------------------------- data


def background_items(data: Path) -> list[FeedbackItem]:
    rows = read_csv(data / "idea_youtube_reviews" / "idea_youtube_reviews.csv")
    out = []
    for n, r in enumerate(rows):
        day = datetime.strptime(r["timestamp"].strip()[:10], "%Y-%m-%d").replace(tzinfo=timezone.utc)
        rating = int(float(r["rating"])) if r.get("rating") else None
        version = (r.get("version") or "").strip()
        out.append(FeedbackItem(
            text=r["text"], source=SOURCE, external_id=f"yt-{n:05d}", created_at=day + timedelta(hours=12, seconds=n % 3600),
            rating=rating, app_version=None if version in ("", "Unknown") else version[:32],
        ))
    return out


def spike_items(data: Path, spikes: Sequence[Spike], exclude: set[str], seed: int) -> tuple[list[FeedbackItem], dict[str, int]]:
    """Planted items (category filled in; a run without given categories drops it); pool sizes."""
    out: list[FeedbackItem] = []
    pool_sizes: dict[str, int] = {}
    cache: dict[str, list[dict[str, str]]] = {}
    for s in spikes:
        rows = cache.setdefault(s.dataset, read_csv(data / s.dataset / f"{s.dataset}.csv"))
        texts = sorted({r["text"].strip() for r in rows if r["label"] == s.label and r["text"].strip()} - exclude)
        pool_sizes[s.name] = len(texts)
        need = s.per_week * s.n_weeks
        if len(texts) < need:
            raise SystemExit(f"spike {s.name}: {len(texts)} distinct texts, {need} needed")
        pick = random.Random(f"{seed}-{s.name}").sample(texts, need)
        exclude |= set(pick)
        for wi, week in enumerate(s.weeks):
            start = week_bounds(week)[0]
            for j in range(s.per_week):
                n = wi * s.per_week + j
                out.append(FeedbackItem(
                    text=pick[n], source=SOURCE, external_id=f"spike-{s.name}-{n:03d}",
                    created_at=start + timedelta(days=j % 7, hours=9, minutes=j), category=s.category,
                ))
    return out, pool_sizes


def embed_all(texts: Sequence[str], embedder: Any, cache_path: Path | None) -> dict[str, np.ndarray]:
    vectors: dict[str, np.ndarray] = {}
    if cache_path and cache_path.exists():
        with np.load(cache_path) as z:
            vectors = {k: z[k] for k in z.files}
        log(f"vector cache {cache_path}: {len(vectors)} vectors")
    todo = sorted({text_hash(x): x for x in texts if text_hash(x) not in vectors}.items())
    if todo:
        log(f"embedding {len(todo)} texts with {embedder.model_id} …")
        t1 = time.perf_counter()
        for i in range(0, len(todo), 256):
            chunk = todo[i : i + 256]
            vecs = embedder.embed([x for _, x in chunk])
            vectors.update({h: v for (h, _), v in zip(chunk, vecs)})
            log(f"  embedded {min(i + 256, len(todo))}/{len(todo)} ({time.perf_counter() - t1:.0f}s)")
        if cache_path:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache_path, **vectors)
    return vectors


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
        run_week(store, embedder, clf, week=w, classifier_version=clf_version, params=params,
                 baseline_weeks=cfg.baseline_weeks, match_threshold=cfg.match_threshold)
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


# --------------------------------------------------------------------------- evaluation


def _load(store: Store) -> tuple[dict[int, str], dict[int, str], dict[tuple[str, str], list[int]], dict[tuple[str, str], int],
                                  dict[str, str | None], dict[str, str], Counter[str]]:
    with store.tx() as c:
        ext = {int(i): e for i, e in c.execute(select(t.feedback.c.id, t.feedback.c.external_id))}
        hashes = {int(i): h for i, h in c.execute(select(t.feedback.c.id, t.feedback.c.text_hash))}
        members: dict[tuple[str, str], list[int]] = defaultdict(list)
        for w, f, p in c.execute(select(t.problem_members.c.week, t.problem_members.c.feedback_id,
                                        t.problem_members.c.problem_id)):
            members[(w, p)].append(int(f))
        counts = {(w, p): int(n) for p, w, n in c.execute(select(t.problem_weeks.c.problem_id, t.problem_weeks.c.week,
                                                                  t.problem_weeks.c.count))}
        status = {f"{w}|{p}": s for p, w, s in c.execute(select(t.problem_weeks.c.problem_id, t.problem_weeks.c.week,
                                                                 t.problem_weeks.c.status))}
        merged = {p: m for p, m in c.execute(select(t.problems.c.id, t.problems.c.merged_into)) if m}
        events = Counter(k for (k,) in c.execute(select(t.problem_events.c.kind)))
    return ext, hashes, members, counts, status, merged, events


def spike_of(external_id: str) -> str | None:
    if not external_id.startswith("spike-"):
        return None
    return external_id[len("spike-"):].rsplit("-", 1)[0]


def evaluate(cfg: RunConfig, store: Store, weeks: Sequence[str], alerts: dict[str, list[dict[str, Any]]],
             digest_counts: dict[str, dict[str, Any]], vectors: dict[str, np.ndarray]) -> dict[str, Any]:
    ext, hashes, members, counts, stored_status, merged, events = _load(store)
    totals = store.week_totals()
    warm = set(weeks[: cfg.baseline_weeks])
    eval_weeks = [w for w in weeks if w not in warm]
    active = [s for s in SPIKES if s.start in weeks]

    # composition of every (week, problem)
    comp: dict[tuple[str, str], Counter[str]] = {}
    for key, fids in members.items():
        comp[key] = Counter(spike_of(ext[f]) or "_background" for f in fids)

    def majority_spike(key: tuple[str, str]) -> str | None:
        c = comp.get(key)
        if not c:
            return None
        n = sum(c.values())
        top, k = max(((s, v) for s, v in c.items() if s != "_background"), key=lambda x: x[1], default=(None, 0))
        return top if top and k / n >= 0.5 else None

    planted_by_week: dict[str, Counter[str]] = defaultdict(Counter)
    for s in active:
        for w in s.weeks:
            planted_by_week[w][s.name] = s.per_week

    # background baseline: median weekly size of problems that are not mainly planted
    bg_sizes = [n for (w, p), n in counts.items() if w in eval_weeks and majority_spike((w, p)) is None]
    median_bg = float(statistics.median(bg_sizes)) if bg_sizes else 0.0
    week_median = {w: float(statistics.median([n for (ww, p), n in counts.items() if ww == w and majority_spike((ww, p)) is None] or [0]))
                   for w in weeks}

    # spikes
    spikes_out = []
    for s in active:
        rows = []
        for w in s.weeks:
            if w not in weeks:
                continue
            held = {p: c[s.name] for (ww, p), c in comp.items() if ww == w and c.get(s.name)}
            maj = max(held.items(), key=lambda x: (x[1], x[0]))[0] if held else None
            alert_ids = {a["id"]: a for a in alerts.get(w, [])}
            strict = sorted(p for p in alert_ids if majority_spike((w, p)) == s.name)
            lenient = sorted(p for p in alert_ids if comp.get((w, p), Counter()).get(s.name, 0) >= 0.5 * s.per_week)
            c = comp.get((w, maj), Counter()) if maj else Counter()
            rows.append({
                "week": w, "planted": s.per_week, "clustered": sum(held.values()),
                "majority_id": maj, "majority_holds": held.get(maj, 0) if maj else 0,
                "majority_purity": round(c.get(s.name, 0) / max(1, sum(c.values())), 3) if maj else None,
                "majority_size": sum(c.values()) if maj else 0,
                "majority_status": stored_status.get(f"{w}|{maj}") if maj else None,
                "alerted_strict": strict, "alerted_lenient": lenient,
                "alert_status": [alert_ids[p]["status"] for p in strict] or [alert_ids[p]["status"] for p in lenient],
            })
        first = bool(rows and rows[0]["alerted_strict"])
        second = first or bool(len(rows) > 1 and rows[1]["alerted_strict"])
        first_l = bool(rows and rows[0]["alerted_lenient"])
        second_l = first_l or bool(len(rows) > 1 and rows[1]["alerted_lenient"])
        pairs = [(a["majority_id"], b["majority_id"]) for a, b in zip(rows, rows[1:])]
        same = sum(1 for a, b in pairs if a is not None and a == b)

        def resolve(p: str | None) -> str | None:
            seen = set()
            while p in merged and p not in seen:
                seen.add(p)
                p = merged[p]
            return p

        same_resolved = sum(1 for a, b in pairs if a is not None and resolve(a) == resolve(b))
        both = [(a, b) for a, b in pairs if a is not None and b is not None]
        spikes_out.append({
            "name": s.name, "dataset": s.dataset, "label": s.label, "category": s.category,
            "per_week": s.per_week, "weeks": [r["week"] for r in rows], "note": s.note,
            "ratio_to_bg_median": round(s.per_week / median_bg, 2) if median_bg else None,
            "ratio_to_week_median": round(s.per_week / week_median[s.start], 2) if week_median.get(s.start) else None,
            "detected_first_week": first, "detected_by_second_week": second,
            "detected_first_week_lenient": first_l, "detected_by_second_week_lenient": second_l,
            "id_pairs": len(pairs), "id_same": same, "id_same_after_merge_redirect": same_resolved,
            "id_stability": round(same / len(pairs), 3) if pairs else None,
            "id_pairs_both_clustered": len(both), "id_same_both_clustered": sum(1 for a, b in both if a == b),
            "distinct_majority_ids": sorted({r["majority_id"] for r in rows if r["majority_id"]}),
            "per_week_rows": rows,
        })

    first_seen: dict[str, str] = {}
    for (w, p) in sorted(counts):
        first_seen.setdefault(p, w)

    # alerts per week
    per_week = []
    false_by_status: Counter[str] = Counter()
    false_list = []
    for w in weeks:
        al = alerts.get(w, [])
        spike_alerts = [a for a in al if majority_spike((w, a["id"]))]
        false = [a for a in al if not majority_spike((w, a["id"]))]
        per_week.append({"week": w, "texts": totals.get(w, 0), "planted": sum(planted_by_week[w].values()),
                         "problems": digest_counts[w].get("problems", 0), "alerts": len(al),
                         "new_ids": sum(1 for (ww, p) in counts if ww == w and first_seen.get(p) == w),
                         "spike_alerts": len(spike_alerts), "false_alerts": len(false), "warm_up": w in warm,
                         "background_median_problem_size": week_median[w]})
        if w in warm:
            continue
        for a in false:
            kind = a["status"] if a["status"] != "new" else ("new (<5)" if a["size"] < 5 else "new (>=5)")
            false_by_status[kind] += 1
            false_list.append({"week": w, **{k: a[k] for k in ("id", "status", "size", "title", "trend", "nearest_known") if k in a}})
    n_false = sum(false_by_status.values())

    # background id continuity
    bg_new, bg_texts, bg_carried = 0, 0, 0
    for (w, p), n in counts.items():
        if w not in eval_weeks or majority_spike((w, p)):
            continue
        c = comp.get((w, p), Counter())
        nb = c.get("_background", 0)
        bg_texts += nb
        if first_seen[p] < w:
            bg_carried += nb
        else:
            bg_new += 1
    run_lengths = []
    by_pid: dict[str, list[str]] = defaultdict(list)
    for (w, p) in counts:
        by_pid[p].append(w)
    for p, ws in by_pid.items():
        ws = sorted(ws)
        best = cur = 1
        for a, b in zip(ws, ws[1:]):
            cur = cur + 1 if shift_week(a, 1) == b else 1
            best = max(best, cur)
        run_lengths.append(best)

    # weeks whose volume is within 0.67–1.5x the median of the previous baseline_weeks weeks
    steady_weeks = set()
    for w in eval_weeks:
        prev = [totals.get(shift_week(w, -i), 0) for i in range(1, cfg.baseline_weeks + 1)]
        med = statistics.median(prev)
        if med > 0 and 0.67 <= totals.get(w, 0) / med <= 1.5:
            steady_weeks.add(w)
    false_steady = sum(1 for a in false_list if a["week"] in steady_weeks)
    # background id stability, judged without the registry: a background problem of week w+1 (>= 5
    # texts) whose member centroid is at least `sim` similar to a problem of week w (same category) is
    # an evident continuation of it; did it keep that id (after following merge redirects)?
    def cent(key: tuple[str, str]) -> np.ndarray:
        m = np.stack([vectors[hashes[f]] for f in members[key]]).astype(np.float64)
        v = m.mean(axis=0)
        return v / max(1e-12, float(np.linalg.norm(v)))

    def resolve_id(p: str) -> str:
        seen = set()
        while p in merged and p not in seen:
            seen.add(p)
            p = merged[p]
        return p

    bg_keys: dict[str, list[tuple[str, np.ndarray]]] = defaultdict(list)
    for (w, p) in members:
        if w in weeks and not majority_spike((w, p)) and len(members[(w, p)]) >= 5:
            bg_keys[w].append((p, cent((w, p))))
    continuity: dict[str, dict[str, Any]] = {}
    for sim_min in (0.85, 0.9):
        kept = pairs_n = 0
        for a, b in zip(eval_weeks, eval_weeks[1:]):
            for p, v in bg_keys.get(b, []):
                cands = [(float(v @ u), q) for q, u in bg_keys.get(a, []) if q.split("-")[0] == p.split("-")[0]]
                if not cands:
                    continue
                best, q = max(cands)
                if best >= sim_min:
                    pairs_n += 1
                    kept += resolve_id(q) == resolve_id(p)
        continuity[f"cosine>={sim_min}"] = {"pairs": pairs_n, "same_id": kept,
                                            "share": round(kept / pairs_n, 3) if pairs_n else None}

    # growing background alerts: how old was the problem id (weeks since first seen)?
    ages = [len(weeks_between(first_seen[a["id"]], a["week"])) - 1 for a in false_list
            if a["status"] == "growing" and a["id"] in first_seen]
    growing_diag = {"n": len(ages), "age_weeks_median": float(statistics.median(ages)) if ages else None,
                    f"share_younger_than_{cfg.baseline_weeks}_weeks": round(sum(x < cfg.baseline_weeks for x in ages) / len(ages), 3) if ages else None,
                    "share_age_1_week": round(sum(x == 1 for x in ages) / len(ages), 3) if ages else None}
    # new background ids that alerted: how close was the nearest problem already known?
    near = [a for a in false_list if a["status"] == "new" and a.get("nearest_known")]
    near_sims = [a["nearest_known"]["cosine"] for a in near]
    new_id_diag = {
        "new_false_alerts_with_a_known_problem_in_category": len(near),
        "nearest_cosine_median": round(float(statistics.median(near_sims)), 3) if near_sims else None,
        "nearest_cosine_quartiles": [round(float(q), 3) for q in np.percentile(near_sims, [25, 50, 75])] if near_sims else None,
        "share_nearest_>=0.7": round(sum(x >= 0.7 for x in near_sims) / len(near_sims), 3) if near_sims else None,
        "share_nearest_>=0.75": round(sum(x >= 0.75 for x in near_sims) / len(near_sims), 3) if near_sims else None,
        "share_nearest_known_absent_this_week": round(sum(not a["nearest_known"]["present_this_week"] for a in near) / len(near), 3) if near else None,
    }
    what_if = trend_what_ifs(cfg, weeks, eval_weeks, counts, totals, alerts, majority_spike, active, steady_weeks)

    strong = [s for s in spikes_out if s["ratio_to_bg_median"] is not None and s["ratio_to_bg_median"] >= 3.0]
    spikes_n = max(1, len(spikes_out))
    pairs_total = sum(s["id_pairs"] for s in spikes_out)
    summary = {
        "recall_first_week": round(sum(s["detected_first_week"] for s in spikes_out) / spikes_n, 3),
        "recall_by_second_week": round(sum(s["detected_by_second_week"] for s in spikes_out) / spikes_n, 3),
        "recall_first_week_3x": round(sum(s["detected_first_week"] for s in strong) / len(strong), 3) if strong else None,
        "spikes_3x": [s["name"] for s in strong],
        "recall_first_week_lenient": round(sum(s["detected_first_week_lenient"] for s in spikes_out) / spikes_n, 3),
        "false_alerts": n_false, "evaluated_weeks": len(eval_weeks),
        "false_alerts_per_10_weeks": round(10 * n_false / max(1, len(eval_weeks)), 2),
        "false_alerts_by_status": dict(false_by_status),
        "steady_volume_weeks": len(steady_weeks),
        "false_alerts_in_steady_volume_weeks": false_steady,
        "false_alerts_per_10_steady_volume_weeks": round(10 * false_steady / max(1, len(steady_weeks)), 2),
        "new_id_alerts_nearest_known": new_id_diag,
        "growing_false_alerts_problem_age": growing_diag,
        "background_id_stability": continuity,
        "spike_id_stability": round(sum(s["id_same"] for s in spikes_out) / pairs_total, 3) if pairs_total else None,
        "spike_id_stability_pairs": f"{sum(s['id_same'] for s in spikes_out)}/{pairs_total}",
        "spike_id_stability_both_weeks_clustered": round(sum(s["id_same_both_clustered"] for s in spikes_out) / max(1, sum(s["id_pairs_both_clustered"] for s in spikes_out)), 3),
        "spike_id_stability_after_merge_redirect": round(sum(s["id_same_after_merge_redirect"] for s in spikes_out) / pairs_total, 3) if pairs_total else None,
        "background_median_problem_size": median_bg,
        "background_new_ids_per_week": round(bg_new / max(1, len(eval_weeks)), 2),
        "background_texts_in_carried_ids": round(bg_carried / max(1, bg_texts), 3),
        "problem_ids_total": len(by_pid), "problem_ids_with_4plus_consecutive_weeks": sum(1 for r in run_lengths if r >= 4),
        "merges": events.get("merge", 0), "splits": events.get("split", 0),
    }
    summary["targets"] = {
        "recall_3x_first_week>=0.9": (summary["recall_first_week_3x"] or 0) >= 0.9,
        "false_alerts<=1_per_10_weeks": summary["false_alerts_per_10_weeks"] <= 1.0,
        "id_stability>=0.95 (spikes)": (summary["spike_id_stability"] or 0) >= 0.95,
        "id_stability>=0.95 (background, cosine>=0.9 continuations)": (continuity["cosine>=0.9"]["share"] or 0) >= 0.95,
    }
    return {"config": {**asdict(cfg)}, "summary": summary, "spikes": spikes_out, "weeks": per_week,
            "false_alerts": false_list, "what_if": what_if}


def trend_what_ifs(cfg: RunConfig, weeks: Sequence[str], eval_weeks: Sequence[str], counts: dict[tuple[str, str], int],
                   totals: dict[str, int], alerts: dict[str, list[dict[str, Any]]],
                   majority_spike: Callable[[tuple[str, str]], str | None], active: Sequence[Spike],
                   steady_weeks: set[str]) -> list[dict[str, Any]]:
    """Stricter emerging rules applied to the alerts the run produced (same clusters and ids).

    Every rule here only removes alerts, so it is exact to filter the digest's list: a ``new`` alert
    is kept if its size reaches the rule's minimum; a ``growing`` one if ``assess_trend`` with the
    rule's thresholds, re-run on the stored weekly counts, still says growing and (if the rule has
    one) the count is at least ``raw_ratio`` times the raw (not volume-adjusted) baseline mean.
    """
    series: dict[str, dict[str, int]] = defaultdict(dict)
    for (w, p), n in counts.items():
        series[p][w] = n
    rules: list[tuple[str, dict[str, Any], int, float, bool]] = [
        # name, assess_trend kwargs, min size for "new", raw-growth guard (0 = none), young-problem baseline
        ("as shipped (digest lists every new)", {}, 1, 0.0, False),
        ("new needs >= 5 (= TrendAssessment.emerging)", {}, 5, 0.0, False),
        ("new >= 5, growing at alpha 1e-4", {"alpha": 1e-4}, 5, 0.0, False),
        ("new >= 5, growing also >= 2x raw baseline mean", {}, 5, 2.0, False),
        ("new >= 5, baseline of a young problem = weeks since first seen", {}, 5, 0.0, True),
        ("new >= 5, young baseline, alpha 1e-4, growing >= 2x raw mean", {"alpha": 1e-4}, 5, 2.0, True),
        ("new >= 10, young baseline, alpha 1e-4, >= 2x raw mean, min_count 10", {"alpha": 1e-4, "min_count": 10}, 10, 2.0, True),
    ]
    out = []
    for name, kw, new_min, raw_guard, young in rules:
        kept: dict[str, list[str]] = defaultdict(list)
        for w in weeks:
            for a in alerts.get(w, []):
                if a["status"] == "new":
                    ok = a["size"] >= new_min
                elif a["status"] == "growing":
                    hist = {ww: n for ww, n in series[a["id"]].items() if ww <= w}
                    bw = cfg.baseline_weeks
                    if young:  # baseline only over the weeks since the problem was first seen
                        bw = max(1, min(bw, len(weeks_between(min(hist), w)) - 1))
                    tr = assess_trend(hist, totals, w, baseline_weeks=bw, **kw)
                    ok = (not kw and not young or tr.status == "growing") and (
                        raw_guard == 0.0 or tr.observed >= raw_guard * max(tr.baseline_mean, 0.5))
                else:
                    ok = True
                if ok:
                    kept[w].append(a["id"])
        false = sum(1 for w in eval_weeks for p in kept.get(w, []) if not majority_spike((w, p)))
        false_steady = sum(1 for w in eval_weeks if w in steady_weeks for p in kept.get(w, []) if not majority_spike((w, p)))
        det1 = sum(1 for s in active if any(majority_spike((s.start, p)) == s.name for p in kept.get(s.start, [])))
        det2 = sum(1 for s in active if any(majority_spike((w, p)) == s.name for w in s.weeks[:2] for p in kept.get(w, [])))
        out.append({"rule": name, "recall_first_week": round(det1 / max(1, len(active)), 3),
                    "recall_by_second_week": round(det2 / max(1, len(active)), 3), "false_alerts": false,
                    "false_alerts_per_10_weeks": round(10 * false / max(1, len(eval_weeks)), 2),
                    "false_alerts_per_10_steady_volume_weeks": round(10 * false_steady / max(1, len(steady_weeks & set(eval_weeks))), 2)})
    return out


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
    ap.add_argument("--keep-stores", type=Path, default=None, help="keep each run's SQLite store in this folder")
    args = ap.parse_args(argv)
    started = datetime.now(timezone.utc)
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
    clf, manifest = load_classifier(ROOT / "models" / "classifier")
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


def code_state() -> dict[str, Any]:
    """Which product code this measured: package location, git HEAD, uncommitted product files, a fingerprint."""
    import hashlib
    import subprocess

    import feedback_miner

    pkg = Path(feedback_miner.__file__).resolve().parent

    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", *a], cwd=pkg.parent, capture_output=True, text=True, timeout=30).stdout.rstrip()
        except (OSError, subprocess.SubprocessError):
            return ""

    h = hashlib.sha256()
    for f in sorted([*pkg.rglob("*.py"), *(pkg.parent / "models" / "classifier").rglob("*")]):
        if f.is_file():
            h.update(str(f.relative_to(pkg.parent)).encode())
            h.update(f.read_bytes())
    dirty = [line for line in git("status", "--porcelain", "--", "feedback_miner", "models/classifier").splitlines() if line]
    return {"package": str(pkg), "git_head": git("rev-parse", "--short", "HEAD").strip(), "uncommitted_product_files": dirty,
            "fingerprint": h.hexdigest()[:16]}


def _sha256(path: Path) -> str | None:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else None


def print_summary(r: dict[str, Any]) -> None:
    s = r["summary"]
    log(f"[{r['config']['name']}] recall first week {s['recall_first_week']:.2f}, by second {s['recall_by_second_week']:.2f}, "
        f"3x spikes {s['recall_first_week_3x']}, false alerts {s['false_alerts']} in {s['evaluated_weeks']} weeks "
        f"({s['false_alerts_per_10_weeks']:.2f}/10 weeks, {s['false_alerts_per_10_steady_volume_weeks']:.2f}/10 steady-volume weeks; "
        f"{s['false_alerts_by_status']}), spike id stability "
        f"{s['spike_id_stability']}, bg median problem size {s['background_median_problem_size']}")
    for sp in r["spikes"]:
        log(f"   {sp['name']:<19} k={sp['per_week']:2d} ({sp['ratio_to_bg_median']}x) first={sp['detected_first_week']!s:5} "
            f"second={sp['detected_by_second_week']!s:5} ids={[w['majority_id'] for w in sp['per_week_rows']]}")
    for w in r["what_if"]:
        log(f"   what-if {w['rule']:<48} recall1 {w['recall_first_week']:.2f} recall2 {w['recall_by_second_week']:.2f} "
            f"false/10wk {w['false_alerts_per_10_weeks']:.2f} (steady-volume weeks {w['false_alerts_per_10_steady_volume_weeks']:.2f})")
    log(f"   new-id alerts vs nearest known problem: {s['new_id_alerts_nearest_known']}")
    log(f"   growing false alerts, problem age: {s['growing_false_alerts_problem_age']}")
    log(f"   background id stability (evident continuations): {s['background_id_stability']}")


if __name__ == "__main__":
    raise SystemExit(main())
