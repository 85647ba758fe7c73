"""The processes bench_e2e.py measures (one per run, so each pays its own imports, loads and JIT).

    python benchmarks/_e2e_child.py analyze  SPEC.json   # `feedback-miner analyze`, optionally with proposed changes
    python benchmarks/_e2e_child.py bertopic SPEC.json   # what a BERTopic user runs
    python benchmarks/_e2e_child.py embed    SPEC.json   # one runtime alone: load, warm up, embed every text
    python benchmarks/_e2e_child.py cluster  SPEC.json   # everything after embedding, on saved vectors
    python benchmarks/_e2e_child.py weekly   SPEC.json   # `feedback-miner run` on a stored week whose texts are embedded

SPEC holds the paths and options; each child writes its own timings (CPU = time.process_time,
all threads) to SPEC["report"]. The parent measures the whole process (wall, CPU, peak RSS).
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _proposed


class StageClock:
    """Wall and CPU seconds inside chosen functions (outermost call only), by monkeypatching."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._depth: dict[str, int] = {}

    def wrap(self, owner: Any, attr: str, name: str | None = None) -> None:
        fn = getattr(owner, attr, None)
        if fn is None or getattr(fn, "_fm_clock", False):
            return
        key = name or attr

        def timed(*a: Any, **kw: Any) -> Any:
            d = self._depth.get(key, 0)
            self._depth[key] = d + 1
            t, c = time.perf_counter(), time.process_time()
            try:
                return fn(*a, **kw)
            finally:
                self._depth[key] = d
                if d == 0:
                    self.wall[key] = self.wall.get(key, 0.0) + time.perf_counter() - t
                    self.cpu[key] = self.cpu.get(key, 0.0) + time.process_time() - c
                    self.calls[key] = self.calls.get(key, 0) + 1

        timed._fm_clock = True  # type: ignore[attr-defined]
        setattr(owner, attr, timed)

    def report(self) -> dict[str, dict[str, float]]:
        return {k: {"wall_s": round(self.wall[k], 3), "cpu_s": round(self.cpu[k], 3), "calls": self.calls[k]}
                for k in sorted(self.cpu, key=lambda k: -self.cpu[k])}


def instrument(clock: StageClock) -> None:
    """Clock the stages of analyze (after any proposed change is applied, so both are timed alike)."""
    import hdbscan
    import numba.core.dispatcher as nd
    import umap
    import umap.umap_ as uu

    from feedback_miner import bootstrap
    from feedback_miner.services import analysis, analyze_file
    from feedback_miner.stages import cluster, problems
    from feedback_miner.stages.classify import LinearSoftmaxClassifier

    for owner, attr, name in (
        (bootstrap, "make_embedder", "load embedding model"), (bootstrap, "load_classifier", "load classifier"),
        (analyze_file, "read_rows", "read file"), (analyze_file, "parse_rows", "validate + redact rows"),
        (analyze_file, "analyze_items", "analyze_items (all)"), (analyze_file, "render_digest", "render digest"),
        (analysis, "embed_texts", "embed"), (LinearSoftmaxClassifier, "predict", "classify"),
        (analysis, "find_problems", "find_problems (all)"), (cluster, "cluster_groups", "cluster (UMAP+HDBSCAN), all categories"),
        (cluster, "cluster_embeddings", "cluster one category (in this process)"),
        (umap.UMAP, "fit_transform", "UMAP"), (uu, "pairwise_distances", "UMAP: pairwise distances (small data)"),
        (uu, "nearest_neighbors", "UMAP: nearest neighbours (pynndescent)"),
        (uu, "fuzzy_simplicial_set", "UMAP: fuzzy simplicial set"),
        (uu, "simplicial_set_embedding", "UMAP: embedding (spectral init + SGD)"),
        (hdbscan.HDBSCAN, "fit", "HDBSCAN"), (nd.Dispatcher, "_compile_for_args", "numba JIT compile/load"),
        (problems, "merge_clusters", "merge near duplicates"), (problems, "praise_share", "praise share"),
        (problems, "keywords_by_cluster", "keywords (c-TF-IDF)"), (problems, "outside_counts", "titles: outside counts"),
        (problems, "candidates", "titles: candidates"), (problems, "rerank", "titles: rerank (embeds phrases)"),
        (problems, "assign_titles", "titles: assign"), (problems, "fallback_title", "titles: fallback"),
        (analysis, "executive_summary", "executive summary"), (analysis, "severe_of", "severe unclustered"),
        (problems, "diverse_quotes", "quotes"), (problems.scoring, "severity_terms", "severity"),
        (problems, "breakdowns", "breakdowns"), (problems, "error_codes", "error codes"),
        (analysis, "attach_satisfaction", "satisfaction"), (analysis, "digest_of", "digest"),
    ):
        clock.wrap(owner, attr, name)


def _write(spec: dict[str, Any], report: dict[str, Any]) -> None:
    Path(spec["report"]).write_text(json.dumps(report, indent=1) + "\n")


def run_analyze(spec: dict[str, Any]) -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    applied = _proposed.apply(spec.get("proposed", []))
    from feedback_miner.bootstrap import Container
    from feedback_miner.cli import app
    from feedback_miner.config import Settings

    # The CLI builds a Container first, which turns the JIT cache on (FM_JIT_CACHE). Do the same
    # before the instrumentation below imports umap, or this process compiles as if it were off.
    Container(Settings())
    clock = StageClock()
    if spec.get("clock"):
        instrument(clock)
    t_import = time.process_time() - c0
    args = ["analyze", spec["csv"], "--out", spec["out"], "--id-column", "id"]
    prof = None
    if spec.get("cprofile"):  # CPU-time profile (time.process_time: all threads)
        import cProfile

        prof = cProfile.Profile(time.process_time)
        prof.enable()
    try:
        app(args, standalone_mode=False)
    finally:
        if prof is not None:
            prof.disable()
            prof.dump_stats(spec["cprofile"])
        _write(spec, {"proposed": applied, "cpu_s": round(time.process_time() - c0, 3),
                      "wall_s": round(time.perf_counter() - t0, 3), "imports_cpu_s": round(t_import, 3),
                      "stages": clock.report()})


def _read_docs(path: str) -> tuple[list[str], list[str]]:
    csv.field_size_limit(sys.maxsize)
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r["id"] for r in rows], [r["text"] for r in rows]


def run_bertopic(spec: dict[str, Any]) -> None:
    """The README path of BERTopic with a local model: encode at batch 64, fit_transform with the embeddings."""
    t0, c0 = time.perf_counter(), time.process_time()
    marks: dict[str, tuple[float, float]] = {}

    def mark(name: str, since: tuple[float, float]) -> tuple[float, float]:
        now = (time.perf_counter(), time.process_time())
        marks[name] = (round(now[0] - since[0], 3), round(now[1] - since[1], 3))
        return now

    import pandas as pd
    from sentence_transformers import SentenceTransformer

    from feedback_miner.adapters.embedders import minilm_path

    if not spec.get("encode_first"):  # the usual script: every import at the top
        from bertopic import BERTopic
    t = mark("imports", (t0, c0))
    df = pd.read_csv(spec["csv"], dtype=str, keep_default_na=False)
    docs = df["text"].tolist()
    t = mark("read csv", t)
    model = SentenceTransformer(str(minilm_path()), device="cpu", local_files_only=True)
    t = mark("load model", t)
    embeddings = model.encode(docs, batch_size=64, show_progress_bar=False)
    t = mark("embed (encode, batch 64)", t)
    if spec.get("encode_first"):  # BERTopic (umap, hdbscan, sklearn...) imported only after encoding
        from bertopic import BERTopic
    topic_model = BERTopic(embedding_model=model)
    topics, _ = topic_model.fit_transform(docs, embeddings)
    t = mark("BERTopic.fit_transform", t)
    info = topic_model.get_topic_info()
    out = Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": df["id"], "topic": topics}).to_csv(out / "topics.csv", index=False)
    info.to_csv(out / "topic_info.csv", index=False)
    mark("topic info + write", t)
    _write(spec, {"stages": {k: {"wall_s": w, "cpu_s": c} for k, (w, c) in marks.items()},
                  "n_topics": int((info["Topic"] >= 0).sum()), "n_docs": len(docs),
                  "cpu_s": round(time.process_time() - c0, 3), "wall_s": round(time.perf_counter() - t0, 3)})


def make_embedder(runtime: str, options: dict[str, Any]) -> Any:
    from feedback_miner.adapters import embedders

    if runtime == "sentence-transformers":
        return embedders.SentenceTransformerEmbedder(**options)
    return embedders.OnnxInt8Embedder(**options)


def run_embed(spec: dict[str, Any]) -> None:
    """One runtime through the product's embed stage (chunks of 1,024, length-sorted within)."""
    import numpy as np

    from feedback_miner.stages.embed import embed_texts

    t0, c0 = time.perf_counter(), time.process_time()
    emb = make_embedder(spec["runtime"], spec.get("options", {}))
    load = (time.perf_counter() - t0, time.process_time() - c0)
    _ids, docs = _read_docs(spec["csv"])
    emb.embed(docs[:64])  # warm-up
    t, c = time.perf_counter(), time.process_time()
    X = embed_texts(docs, emb)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    if spec.get("save"):
        np.save(spec["save"], X)
    _write(spec, {"runtime": spec["runtime"], "options": spec.get("options", {}), "model_id": emb.model_id,
                  "load_wall_s": round(load[0], 3), "load_cpu_s": round(load[1], 3),
                  "embed_wall_s": round(wall, 3), "embed_cpu_s": round(cpu, 3), "n": len(docs),
                  "texts_per_s_wall": round(len(docs) / wall, 1), "texts_per_cpu_s": round(len(docs) / cpu, 1)})


def run_cluster(spec: dict[str, Any]) -> None:
    """Everything analyze does after embedding (classify, find problems, satisfaction, digest) on saved
    vectors, timed per stage; labels and titles written for comparison between variants."""
    t0, c0 = time.perf_counter(), time.process_time()
    applied = _proposed.apply(spec.get("proposed", []))
    from datetime import UTC, datetime

    import numpy as np

    from feedback_miner.adapters.artefacts import load_classifier
    from feedback_miner.domain.types import FeedbackItem
    from feedback_miner.services import analysis

    clock = StageClock()
    instrument(clock)
    imports = time.process_time() - c0
    clf, _ = load_classifier(Path(__file__).resolve().parents[1] / "models" / "classifier")
    emb = make_embedder(spec.get("runtime", "onnx-int8"), {})
    ids, docs = _read_docs(spec["csv"])
    X = np.load(spec["vectors"])
    now = datetime(2026, 11, 16, tzinfo=UTC)
    items = [FeedbackItem(text=d, source="bench", external_id=i, created_at=now, id=n)
             for n, (i, d) in enumerate(zip(ids, docs))]
    t, c = time.perf_counter(), time.process_time()
    preds = clf.predict(X)
    cats = [p.category for p in preds]
    from feedback_miner.stages.cluster import ClusterParams

    # workers 0: as analyze's default (cluster_workers); "params": ClusterParams overrides (--params)
    params = ClusterParams(**{"workers": 1 if "serial" in applied else 0, **spec.get("params", {})})
    found = analysis.find_problems(items, X, cats, params=params, embedder=emb)  # titles re-ranked with the model
    by_id = {it.id: it for it in items if it.id is not None}
    analysis.attach_satisfaction(found.problems, by_id, now=now)
    analysis.digest_of(found, cats, by_id, period="all", top_n=10, now=now, items=items)
    post = (time.perf_counter() - t, time.process_time() - c)
    Path(spec["out"]).write_text(json.dumps({"problem_of": found.problem_of,
                                             "titles": {p.id: p.title for p in found.problems}}) + "\n")
    _write(spec, {"proposed": applied, "imports_cpu_s": round(imports, 3), "post_embedding_wall_s": round(post[0], 3),
                  "post_embedding_cpu_s": round(post[1], 3), "n_problems": len(found.problems),
                  "unclustered": found.unclustered, "stages": clock.report(),
                  "cpu_s": round(time.process_time() - c0, 3), "wall_s": round(time.perf_counter() - t0, 3)})


def run_weekly(spec: dict[str, Any]) -> None:
    """``services.weekly.run_week`` as ``feedback-miner run --week W`` calls it (one Container)."""
    t0, c0 = time.perf_counter(), time.process_time()
    applied = _proposed.apply(spec.get("proposed", []))
    from feedback_miner.bootstrap import Container
    from feedback_miner.config import Settings
    from feedback_miner.services import weekly

    clock = StageClock()
    instrument(clock)
    for attr, name in (("classify_texts", "embed (cache) + classify"), ("pool_unclustered", "pool re-clustering"),
                       ("match_registry", "registry matching"), ("join_fragments", "join fragments"),
                       ("apply_trends", "trends"), ("compute_metrics", "metrics"), ("_save", "write (unit of work)"),
                       ("build_digest", "build digest")):
        clock.wrap(weekly, attr, name)
    imports = time.process_time() - c0
    c = Container(Settings(database_url=spec["db"], embedder=spec["runtime"]))
    clf, manifest = c.classifier()
    emb = c.embedder()
    t, cpu = time.perf_counter(), time.process_time()
    digest = weekly.run_week(c.store, emb, clf, week=spec["week"], classifier_version=str(manifest["version"]),
                             options=c.run_options)
    run = (time.perf_counter() - t, time.process_time() - cpu)
    _write(spec, {"proposed": applied, "imports_cpu_s": round(imports, 3), "run_wall_s": round(run[0], 3),
                  "run_cpu_s": round(run[1], 3), "counts": dict(digest.counts), "stages": clock.report(),
                  "cpu_s": round(time.process_time() - c0, 3), "wall_s": round(time.perf_counter() - t0, 3)})


MODES: dict[str, Callable[[dict[str, Any]], None]] = {
    "analyze": run_analyze, "bertopic": run_bertopic, "embed": run_embed, "cluster": run_cluster,
    "weekly": run_weekly}

if __name__ == "__main__":
    MODES[sys.argv[1]](json.loads(Path(sys.argv[2]).read_text()))
