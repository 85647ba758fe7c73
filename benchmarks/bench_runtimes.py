"""Quality of the two embedding runtimes side by side: torch (sentence-transformers) vs int8 ONNX.

    python benchmarks/bench_runtimes.py [--data ../shared/data] [--seeds 42 7 1] [--knn]
                                        [--out benchmarks/results/runtimes.json]

Uses bench_quality.py's machinery on each runtime's own vectors:
(a) the shipped classifier on bench_quality's mixed labelled set (2,100 texts): macro-F1, accuracy,
    ECE; plus a paired bootstrap (1,000 resamples of the texts) of the macro-F1 difference and the
    share of texts whose predicted category agrees between the runtimes;
(b) problem clustering on the banking77 test split (3,080 texts, 77 intents, categories held
    fixed as ``analyze --category-column``): the product pipeline's NMI / ARI / unclustered share for
    each runtime and UMAP seed, so the runtime difference can be read against the seed spread.
    ``--knn`` adds the same with the proposed exact-kNN UMAP input (benchmarks/_proposed.py).
(c) how close the vectors are: cosine between the runtimes' vectors of the same text.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
from _common import log, read_csv
from bench_quality import PER_CELL, SOURCES, DictCache, classifier_eval, score


def eval_set(data: Path) -> tuple[list[str], list[str]]:
    """The texts and categories of bench_quality.classifier_eval, selected the same way."""
    texts: list[str] = []
    truth: list[str] = []
    for src in SOURCES:
        by_cat: dict[str, list[str]] = defaultdict(list)
        for r in read_csv(data / src / f"{src}.csv"):
            cat, t = (r.get("category6") or "").strip(), (r.get("text") or "").strip()
            if cat and "|" not in cat and t:
                by_cat[cat].append(t)
        for cat in sorted(by_cat):
            lst = list(by_cat[cat])
            random.Random(0).shuffle(lst)
            texts += lst[:PER_CELL]
            truth += [cat] * len(lst[:PER_CELL])
    return texts, truth


def paired_bootstrap(truth: list[str], a: list[str], b: list[str], labels: list[str], n: int = 1000) -> dict[str, Any]:
    from feedback_miner.stages.evaluation import macro_f1

    rng = np.random.default_rng(0)
    t, pa, pb = np.array(truth), np.array(a), np.array(b)
    diffs = []
    for _ in range(n):
        i = rng.integers(0, len(t), len(t))
        diffs.append(macro_f1(t[i].tolist(), pb[i].tolist(), labels) - macro_f1(t[i].tolist(), pa[i].tolist(), labels))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return {"macro_f1_diff_b_minus_a": round(macro_f1(truth, b, labels) - macro_f1(truth, a, labels), 4),
            "ci95": [round(float(lo), 4), round(float(hi), 4)], "resamples": n,
            "agreement": round(float(np.mean(pa == pb)), 4)}


def clustering(data: Path, embedders: dict[str, Any], clf: Any, seeds: list[int], knn: bool) -> dict[str, Any]:
    from feedback_miner.domain.types import FeedbackItem
    from feedback_miner.services.analysis import analyze_items
    from feedback_miner.stages.cluster import ClusterParams
    from feedback_miner.stages.embed import embed_texts

    rows = [r for r in read_csv(data / "banking77" / "banking77.csv") if r["split"] == "test"]
    docs = [r["text"].strip() for r in rows]
    intents = [r["label"] for r in rows]
    now = datetime.now(UTC)
    items = [FeedbackItem(text=d, source="banking77", external_id=str(n), created_at=now, category=r["category6"], id=n)
             for n, (d, r) in enumerate(zip(docs, rows))]
    out: dict[str, Any] = {"n": len(docs), "n_intents": len(set(intents)), "runs": {}}
    vecs: dict[str, np.ndarray] = {}
    caches: dict[str, DictCache] = {}
    for name, emb in embedders.items():
        caches[name] = DictCache()
        vecs[name] = embed_texts(docs, emb, cache=caches[name])
    variants = [("shipped", False)] + ([("exact-knn", True)] if knn else [])
    import umap

    base = umap.UMAP
    for vname, use_knn in variants:
        for name, emb in embedders.items():
            for seed in seeds:
                import _proposed

                umap.UMAP = base
                if use_knn:
                    _proposed._patch_umap()
                t = time.process_time()
                res = analyze_items(items, emb, clf, params=ClusterParams(random_state=seed), use_given_categories=True,
                                    cache=caches[name])
                s = score(intents, res.found.problem_of)
                s["cpu_s"] = round(time.process_time() - t, 2)
                out["runs"].setdefault(f"{vname} / {name}", {})[str(seed)] = s
                log(f"(b) {vname} {name} seed {seed}: {s}")
        umap.UMAP = base
    for key, by_seed in out["runs"].items():
        out.setdefault("summary", {})[key] = {
            m: {"mean": round(statistics.fmean(v[m] for v in by_seed.values()), 4),
                "min": min(v[m] for v in by_seed.values()), "max": max(v[m] for v in by_seed.values())}
            for m in ("nmi", "ari", "unclustered_share", "n_clusters")}
    ref, *others = list(vecs)
    for name in others:
        cos = (vecs[ref] * vecs[name]).sum(1)
        S, R = vecs[name] @ vecs[name].T, vecs[ref] @ vecs[ref].T
        np.fill_diagonal(S, -1.0)
        np.fill_diagonal(R, -1.0)
        nn, nr = np.argsort(-S, axis=1)[:, :10], np.argsort(-R, axis=1)[:, :10]
        same_nn = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(nn, nr)]))
        key = "cosine_between_runtimes" if len(vecs) == 2 else f"{name}_vs_{ref}"
        out[key] = {"mean": round(float(cos.mean()), 5), "min": round(float(cos.min()), 5),
                    "shared_10_nearest_neighbours": round(same_nn, 4)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 7, 1])
    ap.add_argument("--knn", action="store_true")
    ap.add_argument("--runtimes", nargs="+", default=["sentence-transformers", "onnx-int8"],
                    help="runtimes to compare; the first is the reference (sentence-transformers, onnx-int8, "
                    "onnx-dynamic-int8)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "runtimes.json")
    args = ap.parse_args()
    import _proposed

    _proposed.apply(["jit"])
    from feedback_miner.adapters.artefacts import load_classifier
    from feedback_miner.bootstrap import make_embedder
    from feedback_miner.config import Settings
    from feedback_miner.domain.types import CATEGORY_IDS

    load0 = os.getloadavg()
    clf, manifest = load_classifier(ROOT / "models" / "classifier")
    embedders = {rt: make_embedder(Settings(embedder=rt)) for rt in args.runtimes}
    result: dict[str, Any] = {"command": "python benchmarks/bench_runtimes.py " + " ".join(sys.argv[1:]),
                              "date": datetime.now(UTC).isoformat(timespec="seconds"),
                              "classifier_version": manifest["version"], "classifier_trained_on": manifest.get("embedder"),
                              "loadavg_1_5_15_before": [round(x, 2) for x in load0], "classifier": {}}
    texts, truth = eval_set(args.data)
    preds: dict[str, list[str]] = {}
    for name, emb in embedders.items():
        log(f"(a) classifier on {name} vectors")
        r = classifier_eval(args.data, emb, clf)
        assert r["n"] == len(texts)
        result["classifier"][name] = {k: r[k] for k in ("n", "macro_f1_7way", "accuracy", "per_category_f1")} | {
            "ece": r["reliability"]["ece"]}
        preds[name] = [p.category for p in clf.predict(emb.embed(texts))]
    ref, *others = args.runtimes
    for rt in others:
        key = ("paired_bootstrap_onnx_minus_torch" if (ref, rt) == ("sentence-transformers", "onnx-int8")
               else f"paired_bootstrap_{rt}_minus_{ref}")
        result["classifier"][key] = paired_bootstrap(truth, preds[ref], preds[rt], list(CATEGORY_IDS))
    log(f"(a) {result['classifier']}")
    result["clustering_banking77"] = clustering(args.data, embedders, clf, args.seeds, args.knn)
    result["loadavg_1_5_15_after"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    log(f"wrote {args.out}: {json.dumps(result['clustering_banking77'].get('summary'))}")


if __name__ == "__main__":
    main()
