"""Classifier artefacts: a JSON manifest plus an ``.npz`` of arrays — never pickle.

Layout under ``models/classifier/``::

    CURRENT                 the promoted version id (one line)
    <version>/manifest.json label order, embedder id, params, training fingerprint, scores
    <version>/weights.npz   coef, intercept (float32), loaded with allow_pickle=False
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from feedback_miner.errors import ModelError, NotFoundError
from feedback_miner.stages.classify import LinearSoftmaxClassifier

__all__ = ["current_version", "fingerprint", "list_versions", "load_classifier", "promote", "save_classifier"]

FORMAT = "feedback-miner-linear-softmax/1"


def fingerprint(texts: Sequence[str], labels: Sequence[str]) -> str:
    h = hashlib.sha256()
    for text, label in sorted(zip(texts, labels)):
        h.update(text.encode("utf-8", "surrogatepass") + b"\x1f" + label.encode() + b"\x1e")
    return h.hexdigest()


def save_classifier(
    clf: LinearSoftmaxClassifier, root: Path, version: str, *, embedder_id: str,
    training_fingerprint: str, n_train: int, scores: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    clf._check()
    d = root / version
    if d.exists():
        raise ModelError(f"classifier version {version!r} already exists at {d}")
    d.mkdir(parents=True)
    np.savez(d / "weights.npz", coef=clf.coef_, intercept=clf.intercept_)
    manifest = {
        "format": FORMAT,
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "labels": list(clf.classes_),
        "embedder": embedder_id,
        "params": {"C": clf.C, "secondary_threshold": clf.secondary_threshold, "folds": clf.folds,
                   "random_state": clf.random_state},
        "temperature": clf.temperature_,
        "training": {"fingerprint": training_fingerprint, "n_examples": n_train},
        "scores": scores or {},
        **(extra or {}),
    }
    (d / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return d


def list_versions(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if (p / "manifest.json").exists()) if root.exists() else []


def current_version(root: Path) -> str:
    cur = root / "CURRENT"
    if cur.exists():
        return cur.read_text().strip()
    versions = list_versions(root)
    if not versions:
        raise NotFoundError(f"no classifier artefact under {root}; run `feedback-miner train-seed`")
    return versions[-1]


def promote(root: Path, version: str) -> None:
    if version not in list_versions(root):
        raise NotFoundError(f"classifier version {version!r} not found under {root}; have {list_versions(root)}")
    (root / "CURRENT").write_text(version + "\n")


def load_classifier(root: Path, version: str | None = None) -> tuple[LinearSoftmaxClassifier, dict[str, Any]]:
    version = version or current_version(root)
    d = root / version
    try:
        manifest = json.loads((d / "manifest.json").read_text())
        with np.load(d / "weights.npz", allow_pickle=False) as w:
            coef, intercept = w["coef"], w["intercept"]
    except FileNotFoundError as exc:
        raise NotFoundError(f"classifier version {version!r} not found under {root}") from exc
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"classifier artefact {d} is unreadable: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise ModelError(f"classifier artefact {d} has format {manifest.get('format')!r}, expected {FORMAT!r}")
    p = manifest["params"]
    clf = LinearSoftmaxClassifier(p["C"], secondary_threshold=p["secondary_threshold"], folds=p["folds"],
                                  random_state=p["random_state"])
    clf.classes_ = list(manifest["labels"])
    clf.coef_ = coef.astype(np.float32)
    clf.intercept_ = intercept.astype(np.float32)
    clf.temperature_ = float(manifest["temperature"])
    if coef.shape != (len(clf.classes_), coef.shape[1]):
        raise ModelError(f"classifier artefact {d}: weights shape {coef.shape} does not match {len(clf.classes_)} labels")
    return clf, manifest
