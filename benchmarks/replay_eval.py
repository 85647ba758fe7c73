"""Replay evaluation: detection, false alerts, id stability and what-if emerging rules."""

from __future__ import annotations

import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import itertools

from replay_plan import SPIKES, RunConfig, Spike

from feedback_miner.adapters import tables as t
from feedback_miner.adapters.store import Store
from feedback_miner.domain.trends import assess_trend
from feedback_miner.domain.weeks import shift_week, weeks_between

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
        pairs = [(a["majority_id"], b["majority_id"]) for a, b in itertools.pairwise(rows)]
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
    for (w, p) in counts:
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
    for ws in by_pid.values():
        ws = sorted(ws)
        best = cur = 1
        for a, b in itertools.pairwise(ws):
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
        for a, b in itertools.pairwise(eval_weeks):
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
                    ok = ((not kw and not young) or tr.status == "growing") and (
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


