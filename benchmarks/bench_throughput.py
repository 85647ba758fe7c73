"""Throughput: the embedding runtimes and their settings, and the weekly run on already-embedded texts.

    python benchmarks/bench_throughput.py raw    [--n 2000] [--repeats 2] [--configs NAME ...]
    python benchmarks/bench_throughput.py weekly [--n 2500 10000] [--runtime onnx-int8] [--proposed jit,knn,titles]
    (common: [--data ../shared/data] [--out benchmarks/results/throughput.json])

``raw``: each embedder configuration (CONFIGS below) in its own child process, through the product's
embed stage (chunks of 1,024 texts, length-sorted within), alternating configurations every round;
wall time, CPU time (all threads) per text, and how far its vectors are from the first
configuration of the same runtime (max |difference|, min cosine), which shows that thread and spin
settings do not change the vectors.

``weekly``: N texts (the same sample as bench_e2e.py) stored in one ISO week of a fresh SQLite
store, their vectors put in the store's cache first (so nothing is embedded), then
``feedback-miner run``'s service (``run_week``, one ``Container``) in a child process: seconds per
1,000 texts, CPU and peak RSS, and a per-stage split (pool re-clustering, registry matching,
writing...). The end-to-end comparison with BERTopic (``analyze``) is ``bench_e2e.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import log
from bench_e2e import base_env, child, sample, write_csv

# name -> (runtime, constructor options); "shipped-*" are the defaults before this change.
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "st-batch64": ("sentence-transformers", {"batch_size": 64}),
    "onnx-old-b16-spin": ("onnx-int8", {"batch_size": 16, "threads": None, "workers": 1, "spinning": True}),
    "onnx-b16-t2-nospin": ("onnx-int8", {"batch_size": 16, "threads": 2, "workers": 1}),
    "onnx-b32-t2-nospin": ("onnx-int8", {"batch_size": 32, "threads": 2, "workers": 1}),
    "onnx-b4-w2-nospin": ("onnx-int8", {"batch_size": 4, "threads": 1, "workers": 2}),
    "onnx-b8-w2-nospin": ("onnx-int8", {"batch_size": 8, "threads": 1, "workers": 2}),
    "onnx-b8-w2-t2-nospin": ("onnx-int8", {"batch_size": 8, "threads": 2, "workers": 2}),
    "onnx-b8-w2-tdefault-nospin": ("onnx-int8", {"batch_size": 8, "threads": None, "workers": 2}),
    "onnx-b16-w2-nospin": ("onnx-int8", {"batch_size": 16, "threads": 1, "workers": 2}),
    "onnx-b32-w2-nospin": ("onnx-int8", {"batch_size": 32, "threads": 1, "workers": 2}),
    "onnx-b64-w2-nospin": ("onnx-int8", {"batch_size": 64, "threads": 1, "workers": 2}),
    "onnx-b32-w2-spin": ("onnx-int8", {"batch_size": 32, "threads": 1, "workers": 2, "spinning": True}),
    "onnx-default": ("onnx-int8", {}),
}


def raw(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    import numpy as np

    rows = sample(args.data, args.n)
    csv_path = work / f"texts_{args.n}.csv"
    write_csv(rows, csv_path)
    names = args.configs or list(CONFIGS)
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in names}
    for r in range(args.repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            runtime, opts = CONFIGS[name]
            save = work / f"raw_{name}.npy"
            x = child("embed", {"csv": str(csv_path), "runtime": runtime, "options": opts, "save": str(save)},
                      work, f"raw_{name}_r{r}", base_env())
            c = x["child"]
            log(f"  round {r + 1}: {name}: embed {c['embed_wall_s']}s wall, {c['embed_cpu_s']}s CPU "
                f"({1000 * c['embed_cpu_s'] / c['n']:.2f} ms CPU/text); load {x['loadavg_1m_before_after']}")
            runs[name].append({"embed_wall_s": c["embed_wall_s"], "embed_cpu_s": c["embed_cpu_s"],
                               "load_cpu_s": c["load_cpu_s"], "peak_rss_mb": x["peak_rss_mb"],
                               "loadavg_1m_before_after": x["loadavg_1m_before_after"]})
    summary: dict[str, Any] = {}
    first: dict[str, Any] = {}
    for name in names:
        runtime, opts = CONFIGS[name]
        X = np.load(work / f"raw_{name}.npy")
        ref = first.setdefault(runtime, X)
        xs = runs[name]
        summary[name] = {
            "runtime": runtime, "options": opts,
            "embed_wall_s_median": round(statistics.median(x["embed_wall_s"] for x in xs), 2),
            "embed_cpu_s_median": round(statistics.median(x["embed_cpu_s"] for x in xs), 2),
            "cpu_ms_per_text": round(1000 * statistics.median(x["embed_cpu_s"] for x in xs) / len(rows), 2),
            "texts_per_s_wall": round(len(rows) / statistics.median(x["embed_wall_s"] for x in xs), 1),
            "texts_per_cpu_s": round(len(rows) / statistics.median(x["embed_cpu_s"] for x in xs), 1),
            "peak_rss_mb": max(x["peak_rss_mb"] for x in xs),
            "max_abs_diff_to_first_of_runtime": float(np.abs(X - ref).max()),
            "min_cosine_to_first_of_runtime": round(float((X * ref).sum(1).min()), 6)}
        log(f"{name}: {summary[name]}")
    return {"n": len(rows), "configs": names, "runs": runs, "summary": summary}


def weekly(args: argparse.Namespace, work: Path, n: int) -> dict[str, Any]:
    import numpy as np

    from feedback_miner.adapters.store import open_store
    from feedback_miner.domain.types import FeedbackItem
    from feedback_miner.domain.weeks import week_bounds
    from feedback_miner.stages.embed import text_hash

    rows = sample(args.data, n)
    csv_path = work / f"texts_{n}.csv"
    write_csv(rows, csv_path)
    vec = work / f"vectors_{n}_{args.runtime}.npy"
    rep = child("embed", {"csv": str(csv_path), "runtime": args.runtime, "save": str(vec)}, work, f"vec{n}", base_env())
    model_id = rep["child"]["model_id"]
    X = np.load(vec)
    week = "2026-W46"
    start = week_bounds(week)[0]
    out: dict[str, Any] = {"n": len(rows), "week": week, "runtime": args.runtime, "variants": {}}
    variants = [""] + ([args.proposed] if args.proposed else [])
    for r in range(args.repeats):
        for v in (variants if r % 2 == 0 else variants[::-1]):
            db = work / f"weekly_{n}_{r}_{v or 'shipped'}.db"
            store = open_store(f"sqlite:///{db}")
            for i, row in enumerate(rows):
                store.upsert_feedback(FeedbackItem(text=row["text"], source="bench", external_id=row["id"],
                                                   created_at=start + timedelta(seconds=37 * i % (7 * 86400))))
            store.put_vectors(model_id, {text_hash(row["text"]): X[i] for i, row in enumerate(rows)})
            x = child("weekly", {"db": f"sqlite:///{db}", "week": week, "runtime": args.runtime,
                                 "proposed": [p for p in v.split(",") if p]}, work, f"weekly{n}_{r}_{v or 'shipped'}",
                      base_env())
            c = x["child"]
            rec = {"run_wall_s": c["run_wall_s"], "run_cpu_s": c["run_cpu_s"], "process_cpu_s": x["cpu_s"],
                   "process_wall_s": x["wall_s"], "peak_rss_mb": x["peak_rss_mb"],
                   "s_per_1000_texts_wall": round(1000 * c["run_wall_s"] / len(rows), 2),
                   "cpu_s_per_1000_texts": round(1000 * c["run_cpu_s"] / len(rows), 2),
                   "counts": c["counts"], "stages_cpu_s": {k: s["cpu_s"] for k, s in c["stages"].items()},
                   "loadavg_1m_before_after": x["loadavg_1m_before_after"]}
            log(f"  weekly n={n} [{v or 'shipped'}] round {r + 1}: run {c['run_wall_s']}s wall, {c['run_cpu_s']}s CPU "
                f"-> {rec['cpu_s_per_1000_texts']} CPU s / 1,000 texts; load {x['loadavg_1m_before_after']}")
            out["variants"].setdefault(v or "shipped", []).append(rec)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("part", choices=["raw", "weekly"])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--n", type=int, nargs="+", default=None)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--configs", nargs="+", default=None, choices=list(CONFIGS))
    ap.add_argument("--runtime", default="onnx-int8")
    ap.add_argument("--proposed", default="")
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "throughput.json")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="fm-throughput-"))
    work.mkdir(parents=True, exist_ok=True)
    result = json.loads(args.out.read_text()) if args.out.exists() else {}
    result = {k: v for k, v in result.items() if k in ("raw", "weekly")}  # older layouts are replaced
    meta = {"command": "python benchmarks/bench_throughput.py " + " ".join(sys.argv[1:]),
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "loadavg_1_5_15_before": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count()}
    if args.part == "raw":
        args.n = (args.n or [2000])[0]
        result["raw"] = {**raw(args, work), **meta}
        result["raw"]["loadavg_1_5_15_after"] = [round(x, 2) for x in os.getloadavg()]
    else:
        for n in args.n or [2500, 10_000]:
            result.setdefault("weekly", {})[str(n)] = {**weekly(args, work, n), **meta,
                                                       "loadavg_1_5_15_after": [round(x, 2) for x in os.getloadavg()]}
            args.out.write_text(json.dumps(result, indent=1) + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
