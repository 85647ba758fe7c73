"""Classifier versions as use cases: train on the seeds, retrain with the leads' confirmations,
roll back — each updating the model card. The CLI and the API both call these."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from feedback_miner.adapters.artefacts import load_classifier
from feedback_miner.services.model_card import update_model_card
from feedback_miner.services.training import load_seeds, retrain_with_confirmations, rollback, train_version
from feedback_miner.stages.protocols import Embedder, Progress

__all__ = ["retrain", "roll_back", "train_on_seeds"]


def train_on_seeds(models_dir: Path, embedder: Embedder, *, progress: Progress | None = None) -> tuple[str, dict[str, Any]]:
    """A new classifier version on ``models_dir/seeds``, promoted; returns (version, scores)."""
    texts, labels = load_seeds(models_dir / "seeds")
    version, scores = train_version(texts, labels, embedder, models_dir / "classifier", progress=progress)
    update_model_card(models_dir)
    return version, scores


def retrain(models_dir: Path, embedder: Embedder, confirmed: Sequence[tuple[str, str]], *,
            current_version: str | None = None, weight: float = 5.0, progress: Progress | None = None) -> dict[str, Any]:
    """Seeds plus confirmations; the new version is promoted only if it is not worse."""
    clf, manifest = load_classifier(models_dir / "classifier", current_version)
    texts, labels = load_seeds(models_dir / "seeds")
    result = retrain_with_confirmations(texts, labels, confirmed, embedder, models_dir / "classifier", current=clf,
                                        current_manifest=manifest, weight=weight, progress=progress)
    update_model_card(models_dir)
    return result


def roll_back(models_dir: Path, to: str | None = None) -> str:
    """Make an earlier version current (default: the one before); returns it."""
    version = rollback(models_dir / "classifier", to)
    update_model_card(models_dir)
    return version
