"""Small groups: when is a group too small for HDBSCAN to split one problem?

    python benchmarks/bench_small_groups.py [--data ../shared/data] [--draws 400]
                                            [--out benchmarks/results/small_groups.json]

A category with fewer texts than twice its min cluster size (a small week, a rare category) cannot
be split by HDBSCAN, and below ``stages.cluster.SINGLE_CLUSTER_BELOW`` texts its single-cluster
fallback finds one cluster in almost any group. ``stages.cluster.SMALL_GROUP_COHERENCE`` decides
instead: the group is one problem when its mean pairwise cosine reaches it. This benchmark draws
groups of 5-9 texts (``random.Random(0)``; the shipped batch embedder) of two kinds and reports the
distribution of the mean pairwise cosine, and the share of draws at or above each threshold:

* one problem: texts of one banking77 intent (test split) / one bitext intent;
* mixed: texts of one category6 of real app reviews (google_play 4-class, review_pulse; "other"
  left out) — one category, many problems — and of one banking77 category6 (several intents; not
  a clean negative: some categories hold two or three intents only).

Then, through ``cluster_embeddings`` itself, the share of draws in which one cluster holds at least
half the group, for the shipped code, by group size: 5-7 texts take the coherence rule (fewer than
twice the min cluster size), 8-9 texts HDBSCAN and its single-cluster fallback.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import warnings
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
warnings.filterwarnings("ignore")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from feedback_miner.adapters.embedders import OnnxInt8Embedder
from feedback_miner.stages.cluster import SMALL_GROUP_COHERENCE, cluster_embeddings, mean_pairwise_cosine

SETS = [  # name, file, group key, row filter, kind
    ("banking77 intent", "banking77/banking77.csv", "label", lambda r: r["split"] == "test", "one problem"),
    ("bitext intent", "bitext_customer_support/bitext_customer_support.csv", "label", None, "one problem"),
    ("google_play category", "google_play_app_reviews_4class/google_play_app_reviews_4class.csv", "category6",
     lambda r: r["category6"] != "other", "mixed"),
    ("review_pulse category", "review_pulse/review_pulse.csv", "category6", lambda r: r["category6"] != "other", "mixed"),
    ("banking77 category", "banking77/banking77.csv", "category6", lambda r: r["split"] == "test", "mixed (loose)"),
]
THRESHOLDS = (0.45, 0.5, 0.55, 0.6)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--draws", type=int, default=400)
    ap.add_argument("--rows", type=int, default=3000, help="rows sampled per set before grouping")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "small_groups.json")
    a = ap.parse_args()
    embedder = OnnxInt8Embedder()
    rng = random.Random(0)
    out: dict[str, Any] = {"benchmark": "small groups", "date": datetime.now(UTC).isoformat(timespec="seconds"),
                           "shipped_threshold": SMALL_GROUP_COHERENCE, "draws": a.draws, "sets": {}}
    for name, rel, key, keep, kind in SETS:
        with (a.data / rel).open(newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if keep is None or keep(r)]
        random.Random(1).shuffle(rows)
        rows = rows[: a.rows]
        print(f"{name}: embedding {len(rows)} texts …", flush=True)
        V = np.asarray(embedder.embed([r["text"] for r in rows]), dtype=np.float32)
        groups: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(rows):
            groups[r[key]].append(i)
        eligible = sorted(k for k, v in groups.items() if len(v) >= 9)
        coh, one, sizes = [], [], []
        for _ in range(a.draws):
            idx = rng.sample(groups[rng.choice(eligible)], rng.randint(5, 9))
            coh.append(mean_pairwise_cosine(V[idx]))
            labels = cluster_embeddings(V[idx])
            largest = int(np.bincount(labels[labels >= 0]).max()) if (labels >= 0).any() else 0
            one.append(largest >= 0.5 * len(idx))
            sizes.append(len(idx))
        c = np.array(coh)
        res = {"kind": kind, "groups": len(eligible),
               "mean_pairwise_quantiles_5_25_50_75_95": [round(float(q), 3) for q in np.quantile(c, [.05, .25, .5, .75, .95])],
               "share_at_or_above": {str(t): round(float((c >= t).mean()), 3) for t in THRESHOLDS},
               "share_one_problem_shipped": {
                   "5-7": round(float(np.mean([o for o, k in zip(one, sizes) if k <= 7])), 3),
                   "8-9": round(float(np.mean([o for o, k in zip(one, sizes) if k >= 8])), 3)}}
        out["sets"][name] = res
        print(f"  {kind:13s} quantiles {res['mean_pairwise_quantiles_5_25_50_75_95']} >= t {res['share_at_or_above']} "
              f"one problem (shipped) {res['share_one_problem_shipped']}", flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
