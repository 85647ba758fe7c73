"""Evaluation helpers: macro-F1, per-category F1, reliability (calibration) bins, ECE."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["per_class_f1", "macro_f1", "reliability"]


def per_class_f1(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] | None = None) -> dict[str, float]:
    labels = list(labels) if labels is not None else sorted(set(y_true))
    out: dict[str, float] = {}
    for c in labels:
        tp = sum(1 for a, b in zip(y_true, y_pred) if a == c and b == c)
        fp = sum(1 for a, b in zip(y_true, y_pred) if a != c and b == c)
        fn = sum(1 for a, b in zip(y_true, y_pred) if a == c and b != c)
        out[c] = 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)
    return out


def macro_f1(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] | None = None) -> float:
    f = per_class_f1(y_true, y_pred, labels)
    return float(np.mean(list(f.values()))) if f else 0.0


def reliability(y_true: Sequence[str], y_pred: Sequence[str], confidence: Sequence[float] | np.ndarray,
                bins: int = 10) -> dict[str, Any]:
    """Accuracy per confidence bin and the expected calibration error (ECE)."""
    conf = np.asarray(confidence, dtype=float)
    correct = np.array([a == b for a, b in zip(y_true, y_pred)], dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    rows = []
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        if m.sum() == 0:
            continue
        acc, mean_c = float(correct[m].mean()), float(conf[m].mean())
        ece += m.sum() / len(conf) * abs(acc - mean_c)
        rows.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": int(m.sum()), "confidence": round(mean_c, 3), "accuracy": round(acc, 3)})
    return {"ece": round(float(ece), 4), "bins": rows}
