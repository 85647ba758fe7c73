"""Quality benchmark: the shipped classifier on a mixed labelled set, and problem clustering on banking77.

    python benchmarks/bench_quality.py [--data ../shared/data] [--out benchmarks/results/quality.json]

(a) Classifier: up to 150 texts per (source, single-label category6) from four labelled sets
    (random.Random(0), shuffle, first 150); 7-way macro-F1, per-category F1, confusion matrix,
    per-source accuracy, reliability (ECE + bins), accuracy and coverage at confidence >= 0.6.
(b) Clustering, banking77 test split (3,080 texts, 77 intents as truth), categories held fixed
    (category6, like ``feedback-miner analyze --category-column``): the product pipeline
    (``analyze_items(use_given_categories=True)``) on precomputed vectors, vs BERTopic defaults on the
    same vectors, globally and per category. Unclustered / outlier texts are scored as singletons.
(c) HDBSCAN on raw 384-d and after PCA-50 (no UMAP), per category, same vectors.

Embedding is done once (shipped SentenceTransformerEmbedder) and reused; clustering times exclude it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("banking77", "bitext_customer_support", "google_play_app_reviews_4class", "review_pulse")
PER_CELL = 150
CONF_THRESHOLD = 0.6

from _common import log, read_csv


class DictCache:
    """In-memory EmbeddingCache (the product protocol): lets the pipeline run on precomputed vectors."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, np.ndarray]] = defaultdict(dict)

    def get_vectors(self, model_id: str, hashes: Sequence[str]) -> Mapping[str, np.ndarray]:
        d = self.data[model_id]
        return {h: d[h] for h in hashes if h in d}

    def put_vectors(self, model_id: str, vectors: Mapping[str, np.ndarray]) -> None:
        self.data[model_id].update(vectors)


class StepTimer:
    """Progress reporter that records when each pipeline step starts and finishes."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, float]] = []

    def start(self, description: str, total: int) -> None:
        self.events.append(("start", description, time.perf_counter()))

    def advance(self, n: int = 1) -> None:
        return None

    def finish(self) -> None:
        self.events.append(("finish", "", time.perf_counter()))


def singletonise(labels: Sequence[object]) -> np.ndarray:
    """Map labels to ints; every unclustered text (None / -1 / '*:-1') becomes its own singleton."""
    out = np.empty(len(labels), dtype=np.int64)
    ids: dict[object, int] = {}
    nxt = 0
    for i, lab in enumerate(labels):
        if lab is None or lab == -1 or (isinstance(lab, str) and lab.endswith(":-1")):
            out[i] = nxt
            nxt += 1
            continue
        key = ("c", lab)
        if key not in ids:
            ids[key] = nxt
            nxt += 1
        out[i] = ids[key]
    return out


def score(truth: Sequence[str], labels: Sequence[object]) -> dict[str, float | int]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    unclustered = [lab is None or lab == -1 or (isinstance(lab, str) and lab.endswith(":-1")) for lab in labels]
    clusters = {lab for lab, u in zip(labels, unclustered) if not u}
    s = singletonise(labels)
    return {
        "nmi": round(float(normalized_mutual_info_score(truth, s)), 4),
        "ari": round(float(adjusted_rand_score(truth, s)), 4),
        "unclustered_share": round(float(np.mean(unclustered)), 4),
        "n_clusters": len(clusters),
    }


def assign_noise(X: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """The product's post-step (cluster.py): noise joins the nearest centroid at cosine >= threshold."""
    from feedback_miner.stages.cluster import centroids

    labels = labels.copy()
    cents = centroids(X, labels)
    if cents:
        keys = np.array(list(cents))
        sims = X @ np.stack([cents[k] for k in keys]).T
        best = sims.argmax(axis=1)
        noise = (labels == -1) & (sims[np.arange(len(X)), best] >= threshold)
        labels[noise] = keys[best[noise]]
    return labels


# ------------------------------------------------------------------------------------------------
def classifier_eval(data: Path, embedder, clf) -> dict:
    from sklearn.metrics import confusion_matrix

    from feedback_miner.domain.types import CATEGORY_IDS
    from feedback_miner.stages.evaluation import macro_f1, per_class_f1, reliability

    texts: list[str] = []
    truth: list[str] = []
    source: list[str] = []
    cells: dict[str, dict[str, int]] = {}
    for src in SOURCES:
        rows = read_csv(data / src / f"{src}.csv")
        by_cat: dict[str, list[str]] = defaultdict(list)
        for r in rows:
            cat, t = (r.get("category6") or "").strip(), (r.get("text") or "").strip()
            if not cat or "|" in cat or not t:
                continue
            by_cat[cat].append(t)
        cells[src] = {}
        for cat in sorted(by_cat):
            lst = list(by_cat[cat])
            random.Random(0).shuffle(lst)
            take = lst[:PER_CELL]
            cells[src][cat] = len(take)
            texts += take
            truth += [cat] * len(take)
            source += [src] * len(take)
    log(f"(a) evaluation set: {len(texts)} texts; per source/category: {cells}")
    t = time.perf_counter()
    X = embedder.embed(texts)
    log(f"(a) embedded {len(texts)} texts in {time.perf_counter() - t:.1f}s")
    preds = clf.predict(X)
    pred = [p.category for p in preds]
    conf = np.array([p.confidence for p in preds])
    labels = list(CATEGORY_IDS)
    present = [c for c in labels if c in set(truth)]
    f1 = per_class_f1(truth, pred, labels)
    correct = np.array([a == b for a, b in zip(truth, pred)])
    hi = conf >= CONF_THRESHOLD
    per_source = {}
    for src in SOURCES:
        m = np.array([s == src for s in source])
        per_source[src] = {"n": int(m.sum()), "accuracy": round(float(correct[m].mean()), 4),
                           "macro_f1_over_its_categories": round(macro_f1(
                               [a for a, k in zip(truth, m) if k], [b for b, k in zip(pred, m) if k],
                               sorted(cells[src])), 4),
                           "predicted": dict(Counter(b for b, k in zip(pred, m) if k).most_common())}
    cm = confusion_matrix(truth, pred, labels=labels)
    errors: dict[str, list[dict]] = defaultdict(list)
    for t_, p_, c_, s_, x_ in zip(truth, pred, conf, source, texts):
        key = f"{t_}->{p_}"
        if t_ != p_ and len(errors[key]) < 4:
            errors[key].append({"source": s_, "confidence": round(float(c_), 3), "text": x_[:200]})
    res = {
        "n": len(texts),
        "per_source_category_counts": cells,
        "macro_f1_7way": round(macro_f1(truth, pred, labels), 4),
        "macro_f1_over_present_categories": round(macro_f1(truth, pred, present), 4),
        "categories_present_in_truth": present,
        "accuracy": round(float(correct.mean()), 4),
        "per_category_f1": {k: round(v, 4) for k, v in f1.items()},
        "per_category_support": dict(Counter(truth)),
        "confusion_matrix": {"labels": labels, "rows_truth_cols_pred": cm.tolist()},
        "per_source": per_source,
        "reliability": reliability(truth, pred, conf),
        f"accuracy_at_conf_ge_{CONF_THRESHOLD}": round(float(correct[hi].mean()), 4) if hi.any() else None,
        f"share_conf_ge_{CONF_THRESHOLD}": round(float(hi.mean()), 4),
        "target_macro_f1": 0.75,
        "error_examples": dict(sorted(errors.items())),
    }
    res["meets_target"] = res["macro_f1_7way"] >= 0.75
    log(f"(a) macro-F1 {res['macro_f1_7way']} (target 0.75), accuracy {res['accuracy']}, "
        f"ECE {res['reliability']['ece']}, acc@conf>=0.6 {res[f'accuracy_at_conf_ge_{CONF_THRESHOLD}']} "
        f"on {res[f'share_conf_ge_{CONF_THRESHOLD}']:.1%}")
    log(f"(a) per-category F1 {res['per_category_f1']}")
    log(f"(a) per-source accuracy { {k: v['accuracy'] for k, v in per_source.items()} }")
    return res


# ------------------------------------------------------------------------------------------------
def bertopic_run(docs: list[str], X: np.ndarray, st_model) -> tuple[np.ndarray, float]:
    from bertopic import BERTopic

    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        topics, _ = BERTopic(embedding_model=st_model).fit_transform(docs, X)
    return np.asarray(topics), time.perf_counter() - t


def clustering_eval(data: Path, embedder, clf, st_model) -> dict:
    from feedback_miner.domain.types import FeedbackItem
    from feedback_miner.services.analysis import analyze_items
    from feedback_miner.stages.cluster import ClusterParams, auto_min_cluster_size
    from feedback_miner.stages.embed import embed_texts

    rows = [r for r in read_csv(data / "banking77" / "banking77.csv") if r["split"] == "test"]
    docs = [r["text"].strip() for r in rows]
    intents = [r["label"] for r in rows]
    cats = np.array([r["category6"] for r in rows])
    log(f"(b) banking77 test: {len(docs)} texts, {len(set(intents))} intents, categories {dict(Counter(cats))}")
    cache = DictCache()
    t = time.perf_counter()
    X = embed_texts(docs, embedder, cache=cache)
    embed_s = time.perf_counter() - t
    log(f"(b) embedded once in {embed_s:.1f}s (reused below)")

    # Warm up numba (UMAP / pynndescent JIT) so neither contender pays compilation inside its timing.
    import umap

    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        umap.UMAP(n_components=5, metric="cosine", random_state=0).fit_transform(X[:300])
        umap.UMAP(n_components=5, metric="cosine").fit_transform(X[:300])
    log(f"(b) numba/UMAP warm-up {time.perf_counter() - t:.1f}s (excluded from all timings)")

    now = datetime.now(UTC)
    items = [FeedbackItem(text=d, source="banking77", external_id=str(n), created_at=now, category=c, id=n)
             for n, (d, c) in enumerate(zip(docs, cats))]
    params = ClusterParams()
    timer = StepTimer()
    t = time.perf_counter()
    res = analyze_items(items, embedder, clf, params=params, use_given_categories=True, cache=cache, progress=timer)
    total_s = time.perf_counter() - t
    ev = {d: ts for kind, d, ts in timer.events if kind == "start"}
    cl_start = ev.get("Clustering categories")
    cl_end = [ts for kind, _, ts in timer.events if kind == "finish"][-1]
    product_labels = res.found.problem_of
    out: dict = {"n": len(docs), "n_intents": len(set(intents)), "embedding_s_once": round(embed_s, 2),
                 "categories": dict(Counter(cats.tolist()))}
    prod = score(intents, product_labels)
    prod.update({
        "pipeline_s_excluding_embedding": round(total_s, 2),
        "cluster_and_describe_s": round(cl_end - cl_start, 2) if cl_start else None,
        "params": {"min_cluster_size": "auto = feedback_miner.stages.cluster.auto_min_cluster_size(n) per category", "selection": ClusterParams().selection,
                   "auto_min_cluster_size_per_category": {c: auto_min_cluster_size(int((cats == c).sum()))
                                                          for c in sorted(set(cats))},
                   "dims": params.dims, "n_neighbors": params.n_neighbors,
                   "assign_threshold": params.assign_threshold, "random_state": params.random_state},
        "n_problems_vs_intents": f"{prod['n_clusters']} vs {len(set(intents))}",
    })
    # Same clustering without the describe step, to isolate pure clustering time
    from feedback_miner.stages.cluster import cluster_embeddings

    t = time.perf_counter()
    raw = np.empty(len(docs), dtype=object)
    for c in sorted(set(cats)):
        idx = np.where(cats == c)[0]
        lab = cluster_embeddings(X[idx], params)
        for j, i in enumerate(idx):
            raw[i] = f"{c}:{lab[j]}"
    prod["cluster_only_s"] = round(time.perf_counter() - t, 2)
    prod["same_labels_as_pipeline"] = bool(score(intents, list(raw))["nmi"] == prod["nmi"])
    out["product_umap_hdbscan_per_category"] = prod
    log(f"(b) product: {prod}")

    # BERTopic, global (its own view: no categories), defaults, same vectors.
    topics, fit_s = bertopic_run(docs, X, st_model)
    bt = score(intents, topics.tolist())
    bt["fit_s"] = round(fit_s, 2)
    out["bertopic_defaults_global"] = bt
    log(f"(b) BERTopic defaults, global: {bt}")

    # BERTopic per category held fixed (like-for-like with the product).
    labs: list[object] = [None] * len(docs)
    fit_total = 0.0
    for c in sorted(set(cats)):
        idx = np.where(cats == c)[0]
        tp, s = bertopic_run([docs[i] for i in idx], X[idx], st_model)
        fit_total += s
        for j, i in enumerate(idx):
            labs[i] = f"{c}:{int(tp[j])}"
    bc = score(intents, labs)
    bc["fit_s"] = round(fit_total, 2)
    out["bertopic_defaults_per_category"] = bc
    log(f"(b) BERTopic defaults, per category: {bc}")

    # Product with a second UMAP seed, to show seed sensitivity of the product's figure.
    t = time.perf_counter()
    labs2: list[object] = [None] * len(docs)
    for c in sorted(set(cats)):
        idx = np.where(cats == c)[0]
        lab = cluster_embeddings(X[idx], ClusterParams(random_state=7))
        for j, i in enumerate(idx):
            labs2[i] = f"{c}:{lab[j]}"
    ps = score(intents, labs2)
    ps["cluster_only_s"] = round(time.perf_counter() - t, 2)
    out["product_random_state_7"] = ps
    log(f"(b) product, UMAP random_state=7: {ps}")

    out["targets"] = {
        "nmi_above_bertopic_per_category": prod["nmi"] > bc["nmi"],
        "ari_above_bertopic_per_category": prod["ari"] > bc["ari"],
        "nmi_above_bertopic_global": prod["nmi"] > bt["nmi"],
        "ari_above_bertopic_global": prod["ari"] > bt["ari"],
        "unclustered_le_10pct": prod["unclustered_share"] <= 0.10,
        "cluster_time_below_bertopic_per_category": prod["cluster_only_s"] < bc["fit_s"],
        "cluster_time_below_bertopic_global": prod["cluster_only_s"] < bt["fit_s"],
    }
    return out, X, docs, intents, cats


def no_umap_eval(X: np.ndarray, intents: list[str], cats: np.ndarray) -> dict:
    import hdbscan
    from sklearn.decomposition import PCA

    from feedback_miner.stages.cluster import auto_min_cluster_size

    out = {}
    for name, reduce in (("raw_384d", None), ("pca_50", 50)):
        t = time.perf_counter()
        labs: list[object] = [None] * len(X)
        labs_assigned: list[object] = [None] * len(X)
        for c in sorted(set(cats)):
            idx = np.where(cats == c)[0]
            Xc = X[idx]
            Z = PCA(n_components=reduce, random_state=0).fit_transform(Xc) if reduce else Xc
            lab = np.asarray(hdbscan.HDBSCAN(min_cluster_size=auto_min_cluster_size(len(idx)),
                                             cluster_selection_method="eom").fit_predict(Z), dtype=np.int64)
            lab2 = assign_noise(Xc, lab)
            for j, i in enumerate(idx):
                labs[i] = f"{c}:{lab[j]}"
                labs_assigned[i] = f"{c}:{lab2[j]}"
        s = time.perf_counter() - t
        r = score(intents, labs)
        r["with_product_noise_assignment"] = score(intents, labs_assigned)
        r["cluster_s"] = round(s, 2)
        out[f"hdbscan_{name}_per_category"] = r
        log(f"(c) HDBSCAN {name} per category: {r}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "quality.json")
    args = ap.parse_args()

    import torch

    from feedback_miner.adapters.artefacts import load_classifier
    from feedback_miner.adapters.embedders import SentenceTransformerEmbedder

    log("loading embedder and classifier")
    embedder = SentenceTransformerEmbedder()
    clf, manifest = load_classifier(ROOT / "models" / "classifier")
    log(f"classifier {manifest['version']} (embedder {manifest['embedder']}, T={manifest['temperature']:.3f})")

    result: dict = {
        "command": "python benchmarks/bench_quality.py " + " ".join(sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "platform": platform.platform(),
                    "loadavg_1_5_15_at_start": [round(x, 2) for x in os.getloadavg()]},
        "classifier_version": manifest["version"],
    }
    log("(a) classifier on the mixed labelled set")
    result["classifier"] = classifier_eval(args.data, embedder, clf)
    log("(b) clustering on banking77 test")
    clus, X, _docs, intents, cats = clustering_eval(args.data, embedder, clf, embedder._model)
    log("(c) HDBSCAN without UMAP")
    clus.update(no_umap_eval(X, intents, cats))
    result["clustering_banking77"] = clus
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
