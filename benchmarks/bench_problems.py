"""Problem quality benchmark: one real problem, one entry, with a title that names it.

    python benchmarks/bench_problems.py [--data ../shared/data] [--out benchmarks/results/problems.json]
                                        [--vector-cache /tmp/fm-bench-problems.npz] [--no-bertopic]
                                        [--sweep NAME=JSON ...]

Two sets, categories held fixed (their ``category6``, as ``analyze --category-column``):

* banking77, test split: 3,080 texts, 77 intents (40 each);
* bitext customer support: every one of its 27 intents, 100-300 texts each (size drawn per intent
  with ``random.Random(0)``, texts sampled with the same generator): groups of ~1,000-2,000 texts
  per category, where the old rule split intents.

For each: the product's problems (``find_problems`` on the shipped embedder's vectors) against
BERTopic 0.17.4 defaults run per category on the same vectors (its topic label, top words, as its
title; ``embedding_model`` is the local model, so nothing is downloaded). Figures: NMI, ARI,
unclustered share (unclustered / outlier texts scored as singletons), problems per intent, purity,
duplicated titles and title-names-intent: the share of problems whose title, embedded with the
product's model, is nearer to its own majority intent's name ("card arrival") than to any other
intent name. ``--sweep`` runs extra product settings (``ClusterParams`` / ``find_problems`` keyword
overrides as JSON) for tuning, e.g. ``--sweep 'eom={"params": {"selection": "eom"}}'``.
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
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import T0, log, read_csv

from feedback_miner.domain.types import FeedbackItem
from feedback_miner.stages.embed import text_hash
from feedback_miner.stages.evaluation import duplicated_titles, problem_quality, title_names_intent

CATEGORY_OF: dict[object, str] = {}  # problem id -> category of the last product run (for the examples)
TARGETS = {"problems_per_intent": 1.15, "purity": 0.85, "duplicated_titles": 0, "title_names_intent": 0.70,
           "ari": 0.60, "unclustered_share": 0.10}


def load_sets(data: Path) -> dict[str, tuple[list[str], list[str], list[str]]]:
    """name -> (texts, intents, categories)."""
    b77 = [r for r in read_csv(data / "banking77" / "banking77.csv") if r["split"] == "test"]
    out = {"banking77": ([r["text"].strip() for r in b77], [r["label"] for r in b77], [r["category6"] for r in b77])}
    by_intent: dict[str, list[tuple[str, str]]] = defaultdict(list)
    seen: set[str] = set()
    for r in read_csv(data / "bitext_customer_support" / "bitext_customer_support.csv"):
        text = r["text"].strip()
        if text and text not in seen and "|" not in r["category6"]:
            seen.add(text)
            by_intent[r["label"]].append((text, r["category6"]))
    rng = random.Random(0)
    texts, intents, cats = [], [], []
    for intent in sorted(by_intent):
        n = rng.randint(100, 300)
        for text, cat in rng.sample(by_intent[intent], min(n, len(by_intent[intent]))):
            texts.append(text)
            intents.append(intent)
            cats.append(cat)
    out["bitext"] = (texts, intents, cats)
    return out


def demo_set(clf: Any, embedder: Any, weeks: int = 2) -> tuple[list[FeedbackItem], list[str], list[str], np.ndarray]:
    """The bundled demo's last ``weeks`` weeks as ingested (redacted), its planted problem per text, and
    the categories the shipped classifier predicts (what the weekly run uses)."""
    from feedback_miner.demo.generate import generate_labeled_demo
    from feedback_miner.stages.ingest import ColumnMapping, IngestReport, parse_rows

    labeled = generate_labeled_demo(weeks=weeks)
    report = IngestReport()
    items = list(parse_rows(((n, r) for n, (r, _) in enumerate(labeled, 1)), ColumnMapping(), default_source="demo",
                            report=report))
    items = [FeedbackItem(**{**i.__dict__, "id": n}) for n, i in enumerate(items)]
    truth = [pid for _, pid in labeled]
    X = embedder.embed([i.text for i in items])
    return items, truth, [p.category for p in clf.predict(X)], X


def embed_cached(texts: Sequence[str], embedder: Any, cache: Path | None) -> np.ndarray:
    vectors: dict[str, np.ndarray] = {}
    if cache and cache.exists():
        with np.load(cache) as z:
            vectors = {k: z[k] for k in z.files}
    todo = sorted({text_hash(t): t for t in texts if text_hash(t) not in vectors}.items())
    if todo:
        log(f"embedding {len(todo)} texts …")
        vecs = embedder.embed([t for _, t in todo])
        vectors.update({h: v for (h, _), v in zip(todo, vecs)})
        if cache:
            np.savez(cache, **vectors)
    return np.stack([vectors[text_hash(t)] for t in texts]).astype(np.float32)


def evaluate(labels: Sequence[object], titles: dict[object, str], intents: Sequence[str], embedder: Any) -> dict[str, Any]:
    q: dict[str, Any] = problem_quality(intents, labels)
    members: dict[object, list[str]] = defaultdict(list)
    for lab, intent in zip(labels, intents):
        if lab is not None:
            members[lab].append(intent)
    keys = sorted(members, key=str)
    majority = [Counter(members[k]).most_common(1)[0][0] for k in keys]
    ts = [titles[k] for k in keys]
    q["duplicated_titles"] = duplicated_titles(ts)
    q["title_names_intent"] = title_names_intent(ts, majority, intents, embedder.embed)
    q["examples"] = [{"title": t, "majority_intent": m, "size": len(members[k]), "category": CATEGORY_OF.get(k, str(k).split(":")[0]),
                      "purity": round(Counter(members[k]).most_common(1)[0][1] / len(members[k]), 3)}
                     for k, t, m in sorted(zip(keys, ts, majority), key=lambda x: -len(members[x[0]]))]
    return q


def run_product(texts: Sequence[str], cats: Sequence[str], X: np.ndarray, kwargs: dict[str, Any],
                embedder: Any) -> tuple[list[object], dict[object, str], float]:
    from feedback_miner.stages.cluster import ClusterParams
    from feedback_miner.stages.problems import find_problems

    now = datetime.now(UTC)
    items = [FeedbackItem(text=t, source="bench", external_id=str(n), created_at=now, category=c, id=n)
             for n, (t, c) in enumerate(zip(texts, cats))]
    kw = dict(kwargs)
    params = ClusterParams(**kw.pop("params", {}))
    if kw.pop("embed_titles", True):
        kw["embedder"] = embedder
    t0 = time.perf_counter()
    found = find_problems(items, X, list(cats), params=params, **kw)
    CATEGORY_OF.update({p.id: p.category for p in found.problems})
    return list(found.problem_of), {p.id: p.title for p in found.problems}, time.perf_counter() - t0


def run_bertopic(texts: Sequence[str], cats: Sequence[str], X: np.ndarray, st_model: Any) -> tuple[list[object], dict[object, str], float]:
    from bertopic import BERTopic

    labels: list[object] = [None] * len(texts)
    titles: dict[object, str] = {}
    t0 = time.perf_counter()
    arr = np.array(cats)
    for c in sorted(set(cats)):
        idx = np.where(arr == c)[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = BERTopic(embedding_model=st_model)
            topics, _ = model.fit_transform([texts[i] for i in idx], X[idx])
            names = model.generate_topic_labels(nr_words=3, topic_prefix=False, separator=" ")
        label_of = dict(zip(sorted(set(model.topics_)), names))
        for j, i in enumerate(idx):
            if int(topics[j]) >= 0:
                labels[i] = f"{c}:{int(topics[j])}"
                titles[labels[i]] = label_of[int(topics[j])]
    return labels, titles, time.perf_counter() - t0


def targets_met(prod: dict[str, Any], other: dict[str, Any] | None) -> dict[str, bool]:
    out = {
        "problems_per_intent<=1.15": prod["problems_per_intent"] <= TARGETS["problems_per_intent"],
        "purity>=0.85": prod["purity"] >= TARGETS["purity"],
        "duplicated_titles==0": prod["duplicated_titles"] == 0,
        "title_names_intent>=0.70": prod["title_names_intent"] >= TARGETS["title_names_intent"],
        "ari>=0.60": prod["ari"] >= TARGETS["ari"],
        "unclustered<=10%": prod["unclustered_share"] <= TARGETS["unclustered_share"],
    }
    if other:
        higher = ("nmi", "ari", "purity", "title_names_intent")
        lower = ("unclustered_share", "problems_per_intent", "duplicated_titles")
        out["better_than_bertopic"] = (all(prod[k] >= other[k] for k in higher)
                                       and all(prod[k] <= other[k] for k in lower))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "problems.json")
    ap.add_argument("--vector-cache", type=Path, default=Path("/tmp/fm-bench-problems.npz"))
    ap.add_argument("--no-bertopic", action="store_true")
    ap.add_argument("--sets", default="banking77,bitext,demo")
    ap.add_argument("--sweep", action="append", default=[], help="NAME=JSON of find_problems keyword overrides")
    args = ap.parse_args(argv)

    from feedback_miner.adapters.embedders import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    sets = load_sets(args.data)
    runs: list[tuple[str, dict[str, Any]]] = [("product", {})]
    for spec in args.sweep:
        name, _, js = spec.partition("=")
        runs.append((name, json.loads(js)))
    report: dict[str, Any] = {"benchmark": "problem quality", "command": "python benchmarks/bench_problems.py "
                              + " ".join(argv if argv is not None else sys.argv[1:]),
                              "date": datetime.now(UTC).isoformat(timespec="seconds"),
                              "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                              "targets": TARGETS, "sets": {}}
    for name in args.sets.split(","):
        if name == "demo":
            from feedback_miner.adapters.artefacts import load_classifier

            demo_items, intents, cats, X = demo_set(load_classifier(ROOT / "models" / "classifier")[0], embedder)
            texts = [i.text for i in demo_items]
            from feedback_miner.demo.generate import PROBLEM_CATEGORIES as truth_category
        else:
            texts, intents, cats = sets[name]
            X = embed_cached(texts, embedder, args.vector_cache)
        res: dict[str, Any] = {"n": len(texts), "intents": len(set(intents)), "texts_per_category": dict(Counter(cats))}
        for run, kw in runs:
            labels, titles, secs = run_product(texts, cats, X, kw, embedder)
            res[run] = {**evaluate(labels, titles, intents, embedder), "time_s": round(secs, 1), "settings": kw}
        if name == "demo":
            for run, _ in runs:
                res[run]["praise_problems_in_issue_categories"] = [
                    e["title"] for e in res[run]["examples"]
                    if truth_category[e["majority_intent"]] == "other" and e["category"] != "other"]
        if not args.no_bertopic:
            labels, titles, secs = run_bertopic(texts, cats, X, embedder._model)
            res["bertopic_defaults_per_category"] = {**evaluate(labels, titles, intents, embedder), "time_s": round(secs, 1)}
        res["targets_met"] = targets_met(res["product"], res.get("bertopic_defaults_per_category"))
        report["sets"][name] = res
        for run in [r for r, _ in runs] + ([] if args.no_bertopic else ["bertopic_defaults_per_category"]):
            s = res[run]
            log(f"{name:9s} {run:32s} NMI {s['nmi']:.3f} ARI {s['ari']:.3f} uncl {s['unclustered_share']:.1%} "
                f"problems {s['problems']} ({s['problems_per_intent']:.2f}/intent, {s['intents_with_a_problem']} intents) "
                f"purity {s['purity']:.3f} dup {s['duplicated_titles']} names {s['title_names_intent']:.2f} {s['time_s']}s")
        log(f"{name}: targets {res['targets_met']}")
    report["wall_time_s"] = round(time.perf_counter() - T0, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
