"""Throughput benchmark: the ``feedback-miner analyze`` pipeline on 10,000 texts, and raw embedding speed.

    python benchmarks/bench_throughput.py [--data ../shared/data] [--n 10000] [--out benchmarks/results/throughput.json]

1. ``pipeline.analyze_items`` (what ``feedback-miner analyze`` runs, no store, no cache, predicted
   categories) over N unique texts drawn evenly from the five shared sets (random.Random(0)):
   wall time, texts/s, peak RSS, time split into embedding / classification / clustering+describe /
   digest (from the pipeline's own progress events).
2. The embedding model alone on the same texts: SentenceTransformerEmbedder and OnnxInt8Embedder at
   batch 64 (sentence-transformers) and 16 (ONNX int8), texts/s — so the pipeline's overhead over embedding is visible.
Run it alone on the machine: timings are CPU-bound.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SETS = ("banking77", "bitext_customer_support", "google_play_app_reviews_4class", "review_pulse",
        "idea_youtube_reviews")
from _common import log


def rss_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def rss_now_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class StepTimer:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, float]] = []

    def start(self, description: str, total: int) -> None:
        self.events.append(("start", description, time.perf_counter()))
        log(f"  pipeline step: {description}")

    def advance(self, n: int = 1) -> None:
        return None

    def finish(self) -> None:
        self.events.append(("finish", "", time.perf_counter()))


def sample_texts(data: Path, n: int) -> list[str]:
    csv.field_size_limit(sys.maxsize)
    per = n // len(SETS)
    seen: set[str] = set()
    out: list[str] = []
    for k, name in enumerate(SETS):
        with (data / name / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
            texts = [t for t in ((r.get("text") or "").strip() for r in csv.DictReader(fh)) if t]
        texts = sorted(set(texts) - seen)
        random.Random(0).shuffle(texts)
        want = per if k < len(SETS) - 1 else n - len(out)
        take = texts[:want]
        seen.update(take)
        out += take
    random.Random(0).shuffle(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "throughput.json")
    args = ap.parse_args()

    import numpy as np
    import torch

    from feedback_miner.adapters.artefacts import load_classifier
    from feedback_miner.adapters.embedders import OnnxInt8Embedder, SentenceTransformerEmbedder
    from feedback_miner.domain.types import FeedbackItem
    from feedback_miner.services.analysis import analyze_items

    texts = sample_texts(args.data, args.n)
    chars = [len(t) for t in texts]
    log(f"{len(texts)} unique texts, mean {np.mean(chars):.0f} chars, median {np.median(chars):.0f}")
    rss0 = rss_now_mb()
    embedder = SentenceTransformerEmbedder(batch_size=64)
    clf, _manifest = load_classifier(ROOT / "models" / "classifier")
    rss_loaded = rss_now_mb()
    log(f"models loaded; RSS {rss0:.0f} -> {rss_loaded:.0f} MB")

    now = datetime.now(UTC)
    items = [FeedbackItem(text=t, source="bench", external_id=str(i), created_at=now, id=i) for i, t in enumerate(texts)]
    timer = StepTimer()
    log("1. pipeline (analyze_items, sentence-transformers, batch 64, no cache)")
    t = time.perf_counter()
    res = analyze_items(items, embedder, clf, progress=timer)
    wall = time.perf_counter() - t
    peak = rss_peak_mb()
    ev = timer.events
    emb_start = next(ts for k, d, ts in ev if k == "start" and d.startswith("Embedding"))
    emb_end = next(ts for k, _, ts in ev if k == "finish" and ts > emb_start)
    cl_start = next(ts for k, d, ts in ev if k == "start" and d.startswith("Clustering"))
    cl_end = [ts for k, _, ts in ev if k == "finish"][-1]
    split = {"embedding_s": round(emb_end - emb_start, 2),
             "classification_s": round(cl_start - emb_end, 2),
             "clustering_and_describe_s": round(cl_end - cl_start, 2),
             "digest_and_rest_s": round(t + wall - cl_end, 2) + round(emb_start - t, 2)}
    pipeline = {
        "n_texts": len(texts), "wall_s": round(wall, 2), "texts_per_s": round(len(texts) / wall, 1),
        "split": split,
        "peak_rss_mb_process": round(peak, 0), "rss_after_model_load_mb": round(rss_loaded, 0),
        "rss_after_pipeline_mb": round(rss_now_mb(), 0),
        "n_problems": len(res.found.problems), "unclustered": res.found.unclustered,
        "unclustered_share": round(res.found.unclustered / len(texts), 4),
        "predicted_categories": {c: res.categories.count(c) for c in sorted(set(res.categories))},
    }
    log(f"   {pipeline}")

    raw: dict[str, dict] = {}
    for name, make in (("sentence_transformers", SentenceTransformerEmbedder), ("onnx_int8", OnnxInt8Embedder)):
        for bs in ((64,) if name == "sentence_transformers" else (16,)):
            emb = make(batch_size=bs)
            emb.embed(texts[:64])  # warm-up
            log(f"2. raw embedding: {name}, batch {bs}")
            t = time.perf_counter()
            emb.embed(texts)  # the model's own batching over the whole list
            s = time.perf_counter() - t
            raw[f"{name}_batch{bs}"] = {"s": round(s, 2), "texts_per_s": round(len(texts) / s, 1)}
            log(f"   {raw[f'{name}_batch{bs}']}")
            del emb
    st = raw["sentence_transformers_batch64"]["s"]
    out = {
        "command": "python benchmarks/bench_throughput.py " + " ".join(sys.argv[1:]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
                    "loadavg_1_5_15_at_end": [round(x, 2) for x in os.getloadavg()]},
        "texts": {"n": len(texts), "sources": list(SETS), "mean_chars": round(float(np.mean(chars)), 1)},
        "pipeline": pipeline,
        "raw_embedding": raw,
        "pipeline_over_raw_st64": {"ratio_wall": round(wall / st, 2), "extra_s": round(wall - st, 2)},
        "peak_rss_mb_whole_run": round(rss_peak_mb(), 0),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
