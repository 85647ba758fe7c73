"""Replay plan: the planted spikes, the run configurations, and the background / spike items."""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import log, read_csv

from feedback_miner.domain.types import FeedbackItem
from feedback_miner.domain.weeks import shift_week, week_bounds
from feedback_miner.stages.embed import text_hash

SEED = 0
SOURCE = "replay"

# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Spike:
    name: str
    dataset: str
    label: str
    category: str
    per_week: int
    start: str
    n_weeks: int
    note: str = ""

    @property
    def weeks(self) -> list[str]:
        return [shift_week(self.start, i) for i in range(self.n_weeks)]


# Start weeks spread over the busy part of the replay (2016-W32 on: 25–600 reviews a week), sizes
# 6–25 a week, 3–4 weeks each, non-overlapping. The last spike is deliberately hard: crash reports
# from another app, the same theme as much of the (technical) background.
SPIKES: tuple[Spike, ...] = (
    Spike("card_arrival", "banking77", "card_arrival", "shipping", 6, "2016-W36", 4),
    Spike("charged_twice", "banking77", "transaction_charged_twice", "payment", 10, "2016-W41", 4),
    Spike("passcode_forgotten", "banking77", "passcode_forgotten", "account", 15, "2016-W47", 3),
    Spike("track_order", "bitext_customer_support", "track_order", "shipping", 25, "2016-W51", 4),
    Spike("get_refund", "bitext_customer_support", "get_refund", "payment", 25, "2017-W06", 3,
          "starts in the background's own volume surge (550-600 reviews/week)"),
    Spike("app_crashes", "review_pulse", "Crashing Issues", "technical", 25, "2017-W10", 4,
          "hard: same theme as the technical background (video app crashes)"),
)


@dataclass(frozen=True)
class RunConfig:
    name: str
    given_categories: bool = True
    match_threshold: float = 0.8
    baseline_weeks: int = 6
    params: dict[str, Any] = field(default_factory=dict)  # ClusterParams overrides
    note: str = ""


MAIN_RUNS = (
    RunConfig("given", note="default settings; planted texts carry their category6"),
    RunConfig("predicted", given_categories=False, note="default settings; no given categories, classifier decides"),
)
SWEEP_RUNS = (
    RunConfig("given_match0.75", match_threshold=0.75),
    RunConfig("given_match0.7", match_threshold=0.7),
    RunConfig("given_match0.9", match_threshold=0.9),
    RunConfig("given_baseline8", baseline_weeks=8),
    RunConfig("given_mcs5", params={"min_cluster_size": 5}),
    RunConfig("given_mcs3", params={"min_cluster_size": 3}, note="the pre-67ca6c0 floor: a 6-text group can form a cluster"),
    RunConfig("given_match0.75_mcs5", match_threshold=0.75, params={"min_cluster_size": 5}),
)


# --------------------------------------------------------------------------- data


def background_items(data: Path) -> list[FeedbackItem]:
    rows = read_csv(data / "idea_youtube_reviews" / "idea_youtube_reviews.csv")
    out = []
    for n, r in enumerate(rows):
        day = datetime.strptime(r["timestamp"].strip()[:10], "%Y-%m-%d").replace(tzinfo=UTC)
        rating = int(float(r["rating"])) if r.get("rating") else None
        version = (r.get("version") or "").strip()
        out.append(FeedbackItem(
            text=r["text"], source=SOURCE, external_id=f"yt-{n:05d}", created_at=day + timedelta(hours=12, seconds=n % 3600),
            rating=rating, app_version=None if version in ("", "Unknown") else version[:32],
        ))
    return out


def spike_items(data: Path, spikes: Sequence[Spike], exclude: set[str], seed: int) -> tuple[list[FeedbackItem], dict[str, int]]:
    """Planted items (category filled in; a run without given categories drops it); pool sizes."""
    out: list[FeedbackItem] = []
    pool_sizes: dict[str, int] = {}
    cache: dict[str, list[dict[str, str]]] = {}
    for s in spikes:
        rows = cache.setdefault(s.dataset, read_csv(data / s.dataset / f"{s.dataset}.csv"))
        texts = sorted({r["text"].strip() for r in rows if r["label"] == s.label and r["text"].strip()} - exclude)
        pool_sizes[s.name] = len(texts)
        need = s.per_week * s.n_weeks
        if len(texts) < need:
            raise SystemExit(f"spike {s.name}: {len(texts)} distinct texts, {need} needed")
        pick = random.Random(f"{seed}-{s.name}").sample(texts, need)
        exclude |= set(pick)
        for wi, week in enumerate(s.weeks):
            start = week_bounds(week)[0]
            for j in range(s.per_week):
                n = wi * s.per_week + j
                out.append(FeedbackItem(
                    text=pick[n], source=SOURCE, external_id=f"spike-{s.name}-{n:03d}",
                    created_at=start + timedelta(days=j % 7, hours=9, minutes=j), category=s.category,
                ))
    return out, pool_sizes


def embed_all(texts: Sequence[str], embedder: Any, cache_path: Path | None) -> dict[str, np.ndarray]:
    vectors: dict[str, np.ndarray] = {}
    if cache_path and cache_path.exists():
        with np.load(cache_path) as z:
            vectors = {k: z[k] for k in z.files}
        log(f"vector cache {cache_path}: {len(vectors)} vectors")
    todo = sorted({text_hash(x): x for x in texts if text_hash(x) not in vectors}.items())
    if todo:
        log(f"embedding {len(todo)} texts with {embedder.model_id} …")
        t1 = time.perf_counter()
        for i in range(0, len(todo), 256):
            chunk = todo[i : i + 256]
            vecs = embedder.embed([x for _, x in chunk])
            vectors.update({h: v for (h, _), v in zip(chunk, vecs)})
            log(f"  embedded {min(i + 256, len(todo))}/{len(todo)} ({time.perf_counter() - t1:.0f}s)")
        if cache_path:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache_path, **vectors)
    return vectors

