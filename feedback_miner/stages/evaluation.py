"""Evaluation helpers: macro-F1, per-category F1, reliability (calibration) bins, ECE."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from feedback_miner.errors import InputError

__all__ = ["duplicated_titles", "flag_quality", "intent_name", "macro_f1", "per_class_f1", "problem_quality", "reliability",
           "title_names_intent"]


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
    for lo, hi in itertools.pairwise(edges):
        m = (conf > lo) & (conf <= hi) if lo > 0 else (conf >= lo) & (conf <= hi)
        if m.sum() == 0:
            continue
        acc, mean_c = float(correct[m].mean()), float(conf[m].mean())
        ece += m.sum() / len(conf) * abs(acc - mean_c)
        rows.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": int(m.sum()), "confidence": round(mean_c, 3), "accuracy": round(acc, 3)})
    return {"ece": round(float(ece), 4), "bins": rows}


def _scored_labels(labels: Sequence[object]) -> tuple[np.ndarray, np.ndarray]:
    """Integer labels with every unclustered text (``None`` / ``-1``) its own singleton; the mask."""
    out = np.empty(len(labels), dtype=np.int64)
    unclustered = np.zeros(len(labels), dtype=bool)
    ids: dict[object, int] = {}
    for i, lab in enumerate(labels):
        if lab is None or (isinstance(lab, (int, np.integer)) and int(lab) < 0):
            unclustered[i] = True
            out[i] = len(ids) + i + 10**9
            continue
        out[i] = ids.setdefault(lab, len(ids))
    return out, unclustered


def problem_quality(truth: Sequence[str], labels: Sequence[object]) -> dict[str, float | int]:
    """Clustering figures of a set of problems against true intents.

    ``labels`` holds one problem id per text (``None`` or a negative int = joined no problem, scored
    as a singleton). ``purity`` is the share of clustered texts in their problem's majority intent;
    ``problems_per_intent`` counts, per intent that is the majority of at least one problem, the
    problems whose majority it is, averaged over those intents.
    """
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    if len(truth) != len(labels):
        raise InputError(f"truth has {len(truth)} labels but labels has {len(labels)}")
    scored, unclustered = _scored_labels(labels)
    members: dict[int, list[str]] = {}
    for t, s, u in zip(truth, scored.tolist(), unclustered.tolist()):
        if not u:
            members.setdefault(int(s), []).append(t)
    majority_of: dict[int, str] = {}
    in_majority = 0
    for k, ts in members.items():
        intent, n = Counter(ts).most_common(1)[0]
        majority_of[k] = intent
        in_majority += n
    per_intent = Counter(majority_of.values())
    clustered = int((~unclustered).sum())
    return {
        "nmi": round(float(normalized_mutual_info_score(truth, scored)), 4),
        "ari": round(float(adjusted_rand_score(truth, scored)), 4),
        "unclustered_share": round(float(unclustered.mean()) if len(truth) else 0.0, 4),
        "problems": len(members),
        "intents": len(set(truth)),
        "intents_with_a_problem": len(per_intent),
        "problems_per_intent": round(float(np.mean(list(per_intent.values()))), 4) if per_intent else 0.0,
        "purity": round(in_majority / clustered, 4) if clustered else 0.0,
    }


def duplicated_titles(titles: Sequence[str]) -> int:
    """Problems whose title (case- and space-insensitive) another problem of the same run already has."""
    keys = [" ".join(t.lower().split()) for t in titles]
    return len(keys) - len(set(keys))


def intent_name(label: str) -> str:
    """An intent label as words: ``card_arrival`` -> ``card arrival``."""
    return " ".join(label.replace("_", " ").replace("?", "").split())


def title_names_intent(titles: Sequence[str], majority: Sequence[str], intents: Sequence[str],
                       embed: Callable[[Sequence[str]], np.ndarray]) -> float:
    """Share of problems whose title, embedded, is nearest to the name of its own majority intent
    among the names of all ``intents`` (``majority[k]`` is problem ``k``'s majority intent)."""
    if len(titles) != len(majority):
        raise InputError(f"one majority intent per title: {len(majority)} for {len(titles)} titles")
    if not titles:
        return 0.0
    names = sorted(set(intents))
    N = np.asarray(embed([intent_name(n) for n in names]))
    T = np.asarray(embed(list(titles)))
    nearest = (T @ N.T).argmax(axis=1)
    hits = sum(1 for j, m in zip(nearest, majority) if names[int(j)] == m)
    return round(hits / len(titles), 4)


def flag_quality(truth: Sequence[str], got: Sequence[str]) -> dict[str, dict[str, float | int | None]]:
    """Precision and recall per flag reason and over all (``"all"``) of predicted reasons ``got``
    against true ones (``""`` = no flag): a wrong reason counts as a false alarm and as a miss."""
    if len(truth) != len(got):
        raise InputError(f"truth ({len(truth)}) and got ({len(got)}) must align")
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for t, g in zip(truth, got):
        if g and g == t:
            tp[g] += 1
            continue
        if g:
            fp[g] += 1
        if t:
            fn[t] += 1
    out: dict[str, dict[str, float | int | None]] = {}
    for reason in [*sorted(set(tp) | set(fp) | set(fn)), "all"]:
        right = sum(tp.values()) if reason == "all" else tp[reason]
        flagged = right + (sum(fp.values()) if reason == "all" else fp[reason])
        severe = right + (sum(fn.values()) if reason == "all" else fn[reason])
        out[reason] = {"flagged": flagged, "right": right, "severe": severe,
                       "precision": round(right / flagged, 3) if flagged else None,
                       "recall": round(right / severe, 3) if severe else None}
    return out
