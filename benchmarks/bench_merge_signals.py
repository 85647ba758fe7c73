"""Why one geometric merge rule cannot serve both problem sets: how well each signal tells two
fragments of one intent from two different intents.

    python benchmarks/bench_merge_signals.py [--data ../shared/data] [--vector-cache /tmp/fm-bench-problems.npz]

On the sets of ``bench_problems.py`` (categories held fixed), each category is clustered finely
(UMAP 8-d as shipped, HDBSCAN leaf, min size 6); for every pair of fine clusters with centroid cosine
>= 0.6 it reports, per signal, the ROC AUC for "same majority intent", and the 10th/50th percentile
of same-intent pairs against the 90th of different-intent pairs. Also the ceilings: the share of
texts whose 10 nearest neighbours vote their own intent, and the accuracy of the intents' own
centroids. Writes ``benchmarks/results/merge_signals.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_problems import embed_cached, load_sets


def _fine_labels(X: np.ndarray) -> np.ndarray:
    """The shipped UMAP + HDBSCAN at a fixed fine size (leaf, min size 6), noise left unassigned."""
    from feedback_miner.stages.cluster import ClusterParams, cluster_embeddings

    return cluster_embeddings(X, ClusterParams(min_cluster_size=6, selection="leaf", assign_threshold=1.0))


def signals(X: np.ndarray, y: np.ndarray, cats: np.ndarray, k: int = 10) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    feats: list[tuple[float, float, float]] = []
    same: list[bool] = []
    for c in sorted(set(cats.tolist())):
        idx = np.where(cats == c)[0]
        Xc, yc = X[idx], y[idx]
        lab = _fine_labels(Xc)
        S = Xc @ Xc.T
        np.fill_diagonal(S, -1)
        nn = np.argsort(-S, axis=1)[:, :k]
        ks = sorted({int(v) for v in lab if v >= 0})
        if len(ks) < 2:
            continue
        E = np.zeros((max(ks) + 1, max(ks) + 1))
        for i in np.where(lab >= 0)[0]:
            for j in nn[i]:
                if lab[j] >= 0:
                    E[lab[i], lab[j]] += 1
        mean = {q: Xc[lab == q].mean(axis=0) for q in ks}
        size = {q: int((lab == q).sum()) for q in ks}
        major = {q: Counter(yc[lab == q].tolist()).most_common(1)[0][0] for q in ks}
        for a, b in itertools.combinations(ks, 2):
            ra, rb = float(np.linalg.norm(mean[a])), float(np.linalg.norm(mean[b]))
            cos = float(mean[a] @ mean[b]) / (ra * rb)
            if cos < 0.6:
                continue
            conn = (E[a, b] + E[b, a]) / (k * min(size[a], size[b]))
            feats.append((cos, conn, cos / np.sqrt(ra * rb)))
            same.append(major[a] == major[b])
    F, s = np.array(feats), np.array(same)
    out: dict[str, Any] = {"pairs": len(s), "same_intent_pairs": int(s.sum())}
    for j, name in enumerate(("centroid_cosine", "knn_connectivity", "cosine_over_cohesion")):
        out[name] = {"auc": round(float(roc_auc_score(s, F[:, j])), 3),
                     "same_p10_p50": [round(float(v), 3) for v in np.percentile(F[s, j], [10, 50])],
                     "different_p90": round(float(np.percentile(F[~s, j], 90)), 3)}
    return out


def ceilings(X: np.ndarray, y: np.ndarray, k: int = 10) -> dict[str, float]:
    S = X @ X.T
    np.fill_diagonal(S, -1)
    nn = np.argsort(-S, axis=1)[:, :k]
    vote = float(np.mean([Counter(y[nn[i]].tolist()).most_common(1)[0][0] == y[i] for i in range(len(y))]))
    labs = sorted(set(y.tolist()))
    C = np.stack([X[y == lab].mean(axis=0) for lab in labs])
    C /= np.linalg.norm(C, axis=1, keepdims=True)
    acc = float(np.mean(np.array(labs)[(X @ C.T).argmax(axis=1)] == y))
    return {"knn10_vote_accuracy": round(vote, 3), "intent_centroid_accuracy": round(acc, 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--vector-cache", type=Path, default=Path("/tmp/fm-bench-problems.npz"))
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "merge_signals.json")
    args = ap.parse_args()
    from feedback_miner.adapters.embedders import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    report: dict[str, Any] = {"command": "python benchmarks/bench_merge_signals.py", "sets": {}}
    for name, (texts, intents, cats) in load_sets(args.data).items():
        X = embed_cached(texts, embedder, args.vector_cache)
        y = np.array(intents)
        report["sets"][name] = {**ceilings(X, y), **signals(X, y, np.array(cats))}
        print(name, json.dumps(report["sets"][name]), flush=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
