"""Quality floors of the shipped classifier and the clusterer on real public data (tests/data).

The shipped classifier was trained only on models/seeds; these texts were never in training.
Floors sit a little under what benchmarks/bench_quality.py measures on the larger mixed set.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from feedback_miner.stages.cluster import ClusterParams, cluster_embeddings
from feedback_miner.stages.evaluation import macro_f1

pytestmark = pytest.mark.slow
DATA = Path(__file__).resolve().parents[1] / "data" / "real_slice.csv"


def _rows(kind: set[str]) -> list[dict[str, str]]:
    with DATA.open(encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if r["set"] in kind]


def test_classifier_macro_f1_floor_on_real_feedback(real_embedder, shipped_classifier) -> None:  # type: ignore[no-untyped-def]
    rows = _rows({"banking77-cls", "review_pulse"})
    clf, _ = shipped_classifier
    preds = clf.predict(real_embedder.embed([r["text"] for r in rows]))
    truth = [r["category6"] for r in rows]
    labels = sorted(set(truth))
    f1 = macro_f1(truth, [p.category for p in preds], labels)
    assert f1 >= 0.55, f"macro-F1 {f1:.3f} over {labels}"
    # Calibration: confident predictions are right more often than unsure ones.
    conf = np.array([p.confidence for p in preds])
    right = np.array([p.category == t for p, t in zip(preds, truth)])
    assert right[conf >= 0.6].mean() > right[conf < 0.6].mean() + 0.15


def test_clustering_floor_on_banking77_intents(real_embedder) -> None:  # type: ignore[no-untyped-def]
    rows = _rows({"banking77"})
    X = real_embedder.embed([r["text"] for r in rows])
    labels = cluster_embeddings(X, ClusterParams())
    scored = labels.copy()
    nxt = scored.max() + 1
    for i in np.where(scored == -1)[0]:
        scored[i], nxt = nxt, nxt + 1
    truth = [r["label"] for r in rows]
    assert normalized_mutual_info_score(truth, scored) >= 0.70
    assert adjusted_rand_score(truth, scored) >= 0.45
    assert (labels == -1).mean() <= 0.10
    again = cluster_embeddings(X, ClusterParams())
    assert (again == labels).all(), "same input and settings must give the same problems"
