"""Learning curve: how much leads' confirmations improve the shipped classifier on a real set.

    python benchmarks/bench_learning.py [--data ../shared/data] [--set google_play_app_reviews_4class]
                                        [--repeats 3] [--out benchmarks/results/learning.json]

Starting from the shipped seeds (the training data of models/classifier's current version, same C),
add 0, 10, 25, 50, 100 confirmations per category drawn from one shared real app-review set
(single-label rows), retrain as `feedback-miner retrain` does (confirmations weighted 5× a seed),
and evaluate 7-way predictions on a fixed held-out part of that set (macro-F1 over the set's
categories). Each step is averaged over --repeats random draws of the confirmations.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
STEPS = (0, 10, 25, 50, 100)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--set", default="google_play_app_reviews_4class")
    ap.add_argument("--test-per-category", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--weight", type=float, default=5.0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "learning.json")
    args = ap.parse_args()

    from feedback_miner.adapters.artefacts import load_classifier
    from feedback_miner.adapters.embedders import SentenceTransformerEmbedder
    from feedback_miner.services.training import load_seeds
    from feedback_miner.stages.classify import LinearSoftmaxClassifier
    from feedback_miner.stages.evaluation import macro_f1, per_class_f1

    t0 = time.perf_counter()
    rows = list(csv.DictReader((args.data / args.set / f"{args.set}.csv").open(encoding="utf-8")))
    by: dict[str, list[str]] = {}
    for r in rows:
        if "|" not in r["category6"] and r["text"].strip():
            by.setdefault(r["category6"], []).append(r["text"].strip())
    rng = random.Random(0)
    test: list[tuple[str, str]] = []
    pool: dict[str, list[str]] = {}
    for cat, texts in sorted(by.items()):
        texts = sorted(set(texts))
        rng.shuffle(texts)
        test += [(t, cat) for t in texts[: args.test_per_category]]
        pool[cat] = texts[args.test_per_category : args.test_per_category + 400]
    cats = sorted(by)
    print(f"{args.set}: categories {cats}, test {len(test)}, pool {sum(map(len, pool.values()))}", flush=True)

    emb = SentenceTransformerEmbedder()
    _, manifest = load_classifier(ROOT / "models" / "classifier")
    C = float(manifest["params"]["C"])
    seed_texts, seed_labels = load_seeds(ROOT / "models" / "seeds")
    X_seed = emb.embed(seed_texts)
    X_test = emb.embed([t for t, _ in test])
    pool_texts = [t for c in cats for t in pool[c]]
    X_pool = dict(zip(pool_texts, emb.embed(pool_texts)))
    truth = [c for _, c in test]
    print(f"embedded in {time.perf_counter() - t0:.0f}s; C={C}", flush=True)

    results = []
    for k in STEPS:
        scores, per_cat = [], []
        for rep in range(args.repeats if k else 1):
            r = random.Random(100 + rep)
            extra = [(t, c) for c in cats for t in r.sample(pool[c], k)]
            X = np.vstack([X_seed] + ([np.stack([X_pool[t] for t, _ in extra])] if extra else []))
            y = list(seed_labels) + [c for _, c in extra]
            w = np.array([1.0] * len(seed_labels) + [args.weight] * len(extra))
            clf = LinearSoftmaxClassifier(C).fit(X, y, sample_weight=w)
            pred = [p.category for p in clf.predict(X_test)]
            scores.append(macro_f1(truth, pred, cats))
            per_cat.append(per_class_f1(truth, pred, cats))
        res = {"confirmations_per_category": k, "macro_f1": round(float(np.mean(scores)), 4),
               "macro_f1_runs": [round(s, 4) for s in scores],
               "per_category_f1": {c: round(float(np.mean([p[c] for p in per_cat])), 4) for c in cats}}
        results.append(res)
        print(json.dumps(res), flush=True)
    base = results[0]["macro_f1"]
    at50 = next(r["macro_f1"] for r in results if r["confirmations_per_category"] == 50)
    out = {"command": "python benchmarks/bench_learning.py", "date": datetime.now(UTC).isoformat(timespec="seconds"),
           "set": args.set, "categories": cats, "test_size": len(test), "repeats": args.repeats, "weight": args.weight,
           "C": C, "steps": results, "gain_at_50_points": round(100 * (at50 - base), 1),
           "target_gain_points": 10, "meets_target": (at50 - base) >= 0.10,
           "wall_s": round(time.perf_counter() - t0, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"gain at 50/category: {out['gain_at_50_points']} points (target 10) -> {args.out}")


if __name__ == "__main__":
    main()
