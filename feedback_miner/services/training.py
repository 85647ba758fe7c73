"""Train a classifier version on the shipped seed examples (plus confirmations, when given).

C is chosen by stratified cross-validation on the training data (macro-F1); the CV scores and
the reliability of the calibrated probabilities go into the manifest and the model card.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from feedback_miner.adapters.artefacts import fingerprint, list_versions, promote, save_classifier
from feedback_miner.domain.types import CATEGORY_IDS
from feedback_miner.errors import InputError
from feedback_miner.stages.classify import LinearSoftmaxClassifier
from feedback_miner.stages.embed import embed_texts
from feedback_miner.stages.evaluation import macro_f1, reliability
from feedback_miner.stages.protocols import Embedder, Progress

__all__ = ["C_GRID", "load_seeds", "retrain_with_confirmations", "rollback", "train_version"]

C_GRID = (0.5, 1.0, 2.0, 4.0, 8.0)


def load_seeds(seeds_dir: Path) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    labels: list[str] = []
    files = sorted(seeds_dir.glob("*.csv"))
    if not files:
        raise InputError(f"no seed CSV files under {seeds_dir}")
    for f in files:
        with f.open(encoding="utf-8", newline="") as fh:
            for n, row in enumerate(csv.DictReader(fh), start=2):
                if row.get("category") not in CATEGORY_IDS or not (row.get("text") or "").strip():
                    raise InputError(f"{f.name} row {n}: needs text and a category in {CATEGORY_IDS}")
                texts.append(row["text"].strip())
                labels.append(row["category"])
    return texts, labels


def _cv_predictions(X: np.ndarray, y: Sequence[str], C: float, folds: int = 5, seed: int = 0) -> tuple[list[str], np.ndarray]:
    from sklearn.model_selection import StratifiedKFold

    y_arr = np.array(y)
    pred = np.empty(len(y), dtype=object)
    conf = np.zeros(len(y))
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y_arr):
        clf = LinearSoftmaxClassifier(C).fit(X[tr], list(y_arr[tr]))
        for j, p in zip(te, clf.predict(X[te])):
            pred[j], conf[j] = p.category, p.confidence
    return [str(p) for p in pred], conf


def train_version(
    texts: Sequence[str], labels: Sequence[str], embedder: Embedder, root: Path, *, version: str | None = None,
    sample_weight: np.ndarray | None = None, progress: Progress | None = None, make_current: bool = True,
    extra: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Fit, evaluate by cross-validation, save as a new version; returns (version, scores)."""
    X = embed_texts(texts, embedder, progress=progress)
    grid = {C: macro_f1(labels, _cv_predictions(X, labels, C)[0]) for C in C_GRID}
    best_c = max(grid, key=lambda c: (round(grid[c], 3), -c))
    cv_pred, cv_conf = _cv_predictions(X, labels, best_c)
    clf = LinearSoftmaxClassifier(best_c).fit(X, list(labels), sample_weight=sample_weight)
    scores = {
        "seed_cv_macro_f1": round(grid[best_c], 4),
        "c_grid_macro_f1": {str(c): round(v, 4) for c, v in grid.items()},
        "seed_cv_reliability": reliability(labels, cv_pred, cv_conf),
    }
    version = version or f"v{max([_vkey(v)[0] for v in list_versions(root)] + [0]) + 1}"
    save_classifier(clf, root, version, embedder_id=embedder.model_id, training_fingerprint=fingerprint(texts, labels),
                    n_train=len(texts), scores=scores, extra=extra)
    if make_current:
        promote(root, version)
    return version, scores


def _is_validation(text: str) -> bool:
    """The fixed validation split: a fifth of confirmations, chosen by a hash of the text."""
    import hashlib

    return int(hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8], 16) % 5 == 0


def retrain_with_confirmations(
    seed_texts: Sequence[str], seed_labels: Sequence[str], confirmed: Sequence[tuple[str, str]], embedder: Embedder,
    root: Path, *, current: LinearSoftmaxClassifier, current_manifest: dict[str, Any], weight: float = 5.0,
    tolerance: float = 0.005, min_validation: int = 20, progress: Progress | None = None,
) -> dict[str, Any]:
    """Train a new version on seeds + confirmations; promote it only if it is not worse.

    Not worse = macro-F1 on the fixed validation split of confirmations (never trained on) at least
    the current version's minus ``tolerance``; with fewer than ``min_validation`` held-out
    confirmations, the seed cross-validation scores are compared instead. Every version is kept.
    """
    if weight <= 0:
        raise InputError(f"weight must be positive, got {weight}")
    val = [(t, c) for t, c in confirmed if _is_validation(t)]
    train = [(t, c) for t, c in confirmed if not _is_validation(t)]
    texts = list(seed_texts) + [t for t, _ in train]
    labels = list(seed_labels) + [c for _, c in train]
    sw = np.array([1.0] * len(seed_texts) + [weight] * len(train))
    version, scores = train_version(texts, labels, embedder, root, sample_weight=sw, progress=progress,
                                    make_current=False, extra={"confirmations": {"train": len(train), "validation": len(val),
                                                                                "weight": weight}})
    from feedback_miner.adapters.artefacts import load_classifier

    cand, _ = load_classifier(root, version)
    if len(val) >= min_validation:
        Xv = embed_texts([t for t, _ in val], embedder)
        truth = [c for _, c in val]
        basis = "validation split of confirmations"
        old = macro_f1(truth, [p.category for p in current.predict(Xv)])
        new = macro_f1(truth, [p.category for p in cand.predict(Xv)])
    else:
        basis = "seed cross-validation (too few held-out confirmations)"
        old = float(current_manifest.get("scores", {}).get("seed_cv_macro_f1", 0.0))
        new = float(scores["seed_cv_macro_f1"])
    promoted = new >= old - tolerance
    if promoted:
        promote(root, version)
    return {"version": version, "promoted": promoted, "basis": basis, "current_version": current_manifest.get("version"),
            "current_macro_f1": round(old, 4), "candidate_macro_f1": round(new, 4), "n_train_confirmations": len(train),
            "n_validation": len(val)}


def rollback(root: Path, to: str | None = None) -> str:
    """Make an earlier version current again (default: the one before the current)."""
    from feedback_miner.adapters.artefacts import current_version

    versions = list_versions(root)
    cur = current_version(root)
    if to is None:
        earlier = [v for v in versions if _vkey(v) < _vkey(cur)]
        if not earlier:
            raise InputError(f"no version before {cur} to roll back to")
        to = max(earlier, key=_vkey)
    promote(root, to)
    return to


def _vkey(v: str) -> tuple[int, str]:
    digits = "".join(ch for ch in v if ch.isdigit())
    return (int(digits) if digits else 0, v)
