"""Could a second pass split the problems that lump several intents? How far apart the parts are.

    python benchmarks/bench_split_signals.py [--data ../shared/data] [--vector-cache /tmp/fm-bench-problems.npz]
                                             [--out benchmarks/results/split_signals.json]

On the sets of ``bench_problems.py`` (banking77 test split and bitext with categories held fixed;
the demo's last two weeks with predicted categories), each category is clustered as shipped
(``cluster_embeddings``). Inside every cluster of at least 10 texts, HDBSCAN (leaf, min size 5) runs
again on the cluster's own UMAP coordinates. For every pair of the sub-clusters it finds, the
report says whether their majority intents differ (a split would be right) or are the same (a split
would fragment), against the cosine of their centroids in the embedding space: the counts below
each threshold, and the cosine between the intents' own centroids where the demo lumps several of
them into one problem; and the quality (ARI, NMI, purity, problems per intent) of the clusters as
shipped and after such a split pass (``split_pass``, not shipped) at three thresholds. Vectors: sentence-transformers, as ``bench_problems.py`` (same cache file).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.65)
VARIANTS: list[tuple[str, float | None, bool]] = [("clusters as shipped", None, False)] + [
    (f"split below {t}, parts of {'the floor' if f else '5'}", t, f) for t in (0.5, 0.65, 0.75) for f in (True, False)]
"""Quality of ``cluster_embeddings`` per category alone (no merging, titles or pool, so lower than
``bench_problems.py``'s figures), as shipped and with :func:`split_pass` after it."""


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def split_pass(X: np.ndarray, Z: np.ndarray, labels: np.ndarray, threshold: float, min_part: int) -> np.ndarray:
    """The pass measured (not shipped): inside each cluster of 10 or more texts, HDBSCAN (leaf, min size
    5) on its UMAP coordinates; parts whose centroids are at least ``threshold`` apart in cosine stay
    together (connected components); the cluster is split when two components or more hold
    ``min_part`` texts; smaller components and HDBSCAN's noise join the nearest kept one."""
    import hdbscan
    from scipy.sparse.csgraph import connected_components

    out = labels.copy()
    nxt = int(out.max(initial=-1)) + 1
    for lab in sorted(set(out.tolist()) - {-1}):
        m = np.where(out == lab)[0]
        if len(m) < 10:
            continue
        sub = hdbscan.HDBSCAN(min_cluster_size=5, cluster_selection_method="leaf").fit_predict(Z[m])
        parts = sorted(set(sub.tolist()) - {-1})
        if len(parts) < 2:
            continue
        cents = np.stack([_unit(X[m[sub == k]].mean(0)) for k in parts])
        n_comp, comp = connected_components(cents @ cents.T >= threshold, directed=False)
        if n_comp < 2:
            continue
        part_of = np.where(sub >= 0, np.searchsorted(parts, np.maximum(sub, 0)), (X[m] @ cents.T).argmax(1))
        cm = comp[part_of]
        sizes = Counter(cm.tolist())
        kept = sorted(k for k, n in sizes.items() if n >= min_part)
        if len(kept) < 2:
            continue
        kc = {k: _unit(X[m[cm == k]].mean(0)) for k in kept}
        for k in sizes:
            if k not in kc:
                ck = _unit(X[m[cm == k]].mean(0))
                cm[cm == k] = max(kept, key=lambda b: float(ck @ kc[b]))
        for k in kept[1:]:
            out[m[cm == k]] = nxt
            nxt += 1
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--vector-cache", type=Path, default=Path("/tmp/fm-bench-problems.npz"))
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "split_signals.json")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")

    import bench_problems as bp
    import hdbscan
    import umap

    from feedback_miner.adapters.artefacts import load_classifier
    from feedback_miner.adapters.embedders import SentenceTransformerEmbedder
    from feedback_miner.stages.cluster import auto_min_cluster_size, cluster_embeddings
    from feedback_miner.stages.evaluation import problem_quality

    seen: dict[str, np.ndarray] = {}
    fit_transform = umap.UMAP.fit_transform

    def keep(self: Any, X: Any, *a: Any, **k: Any) -> Any:  # the coordinates cluster_embeddings clusters
        seen["Z"] = fit_transform(self, X, *a, **k)
        return seen["Z"]

    umap.UMAP.fit_transform = keep  # type: ignore[method-assign]
    embedder = SentenceTransformerEmbedder()
    sets: dict[str, tuple[list[str], list[str], list[str], np.ndarray]] = {}
    for name, (texts, intents, cats) in bp.load_sets(args.data).items():
        sets[name] = (texts, intents, cats, bp.embed_cached(texts, embedder, args.vector_cache))
    items, intents, cats, X = bp.demo_set(load_classifier(ROOT / "models" / "classifier")[0], embedder)
    sets["demo"] = ([i.text for i in items], intents, cats, X)

    report: dict[str, Any] = {"benchmark": "split signals", "command": "python benchmarks/bench_split_signals.py "
                              + " ".join(argv if argv is not None else sys.argv[1:]),
                              "date": datetime.now(UTC).isoformat(timespec="seconds"), "sets": {}}
    for name, (_, intent_list, cat_list, V) in sets.items():
        y, c = np.array(intent_list), np.array(cat_list)
        same: list[float] = []
        diff: list[float] = []
        lumped: list[dict[str, Any]] = []
        clusters = with_parts = 0
        runs: list[tuple[np.ndarray, np.ndarray, np.ndarray | None, int]] = []
        for cat in sorted(set(c)):
            idx = np.where(c == cat)[0]
            seen.clear()
            labels = cluster_embeddings(V[idx])
            runs.append((idx, labels, seen.get("Z"), auto_min_cluster_size(len(idx))))
            if "Z" not in seen:
                continue
            Z = seen["Z"]
            for lab in sorted(set(labels.tolist()) - {-1}):
                m = np.where(labels == lab)[0]
                if len(m) < 10:
                    continue
                clusters += 1
                members = Counter(y[idx[m]].tolist())
                if len(members) >= 2 and members.most_common(2)[1][1] >= 5:
                    top = [k for k, n in members.most_common() if n >= 5]
                    cents = np.stack([_unit(V[idx[m]][y[idx[m]] == k].mean(0)) for k in top])
                    S = cents @ cents.T
                    lumped.append({"category": cat, "size": len(m), "intents": dict(members.most_common(5)),
                                   "intent_centroid_cosines": [round(float(S[i, j]), 3) for i in range(len(top))
                                                               for j in range(i + 1, len(top))]})
                sub = hdbscan.HDBSCAN(min_cluster_size=5, cluster_selection_method="leaf").fit_predict(Z[m])
                parts = sorted(set(sub.tolist()) - {-1})
                if len(parts) < 2:
                    continue
                with_parts += 1
                cents = np.stack([_unit(V[idx[m[sub == k]]].mean(0)) for k in parts])
                major = [Counter(y[idx[m[sub == k]]].tolist()).most_common(1)[0][0] for k in parts]
                S = cents @ cents.T
                for i in range(len(parts)):
                    for j in range(i + 1, len(parts)):
                        (same if major[i] == major[j] else diff).append(float(S[i, j]))
        s, d = np.array(same), np.array(diff)
        quality: dict[str, dict[str, float]] = {}
        for variant, threshold, floor_parts in VARIANTS:
            joined: list[object] = [None] * len(y)
            for (idx, labels, Z, floor) in runs:
                if threshold is not None and Z is not None:
                    labels = split_pass(V[idx], Z, labels, threshold, floor if floor_parts else 5)
                for i, lab in zip(idx.tolist(), labels.tolist()):
                    joined[i] = None if lab < 0 else f"{c[i]}:{lab}"
            q = problem_quality(intent_list, joined)
            quality[variant] = {k: round(float(q[k]), 3) for k in ("ari", "nmi", "purity", "problems_per_intent")}
            print(f"   {name} {variant}: {quality[variant]}")
        report["sets"][name] = {"clusters_only_quality": quality,
            "clusters_of_10_or_more": clusters, "with_parts_at_min_size_5": with_parts,
            "pairs_same_intent": len(s), "pairs_different_intent": len(d),
            "below": {str(t): {"different_intent": int((d < t).sum()), "same_intent": int((s < t).sum())}
                      for t in THRESHOLDS},
            "lumped_problems": sorted(lumped, key=lambda r: -r["size"])[:10],
        }
        print(f"{name}: {clusters} clusters ≥ 10, {with_parts} with parts; pairs {len(d)} different / {len(s)} same intent")
        for t in THRESHOLDS:
            print(f"   centroid cosine < {t}: {(d < t).sum()} different-intent pairs, {(s < t).sum()} same-intent")
        for r in report["sets"][name]["lumped_problems"][:3]:
            print(f"   lumped: {r['size']} texts {r['intents']} intent centroids {r['intent_centroid_cosines']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
