"""Classifier: a calibrated linear softmax model over sentence embeddings.

Behaves like a scikit-learn estimator: the constructor only stores settings, ``fit`` returns
``self``, learned state ends in ``_``, and using it unfitted raises :class:`NotFittedError`.
Probabilities are calibrated by temperature scaling fitted on cross-validated logits, so a
confidence threshold means something (see the model card for the measured reliability).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from feedback_miner.domain.types import CATEGORY_IDS, Prediction
from feedback_miner.errors import InputError, NotFittedError

__all__ = ["LinearSoftmaxClassifier", "check_params"]


def check_params(*, C: float, secondary_threshold: float, folds: int) -> None:
    """Validate the classifier's parameters; messages name the parameter, the value and the range."""
    if not (isinstance(C, (int, float)) and C > 0):
        raise InputError(f"C must be a positive number, got {C!r}")
    if not 0.0 < secondary_threshold < 1.0:
        raise InputError(f"secondary_threshold must be in (0, 1), got {secondary_threshold!r}")
    if not (isinstance(folds, int) and folds >= 2):
        raise InputError(f"folds must be an integer >= 2, got {folds!r}")


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def _fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature that minimises held-out negative log-likelihood (golden-section search)."""

    def nll(t: float) -> float:
        p = _softmax(logits / t)
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0))))

    lo, hi = np.log(0.05), np.log(20.0)
    g = (np.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    for _ in range(60):
        if nll(float(np.exp(a))) < nll(float(np.exp(b))):
            hi = b
        else:
            lo = a
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    return float(np.exp((lo + hi) / 2))


class LinearSoftmaxClassifier:
    """Multinomial logistic regression on unit-normalised embeddings, temperature-calibrated."""

    def __init__(
        self,
        C: float = 4.0,
        *,
        secondary_threshold: float = 0.25,
        folds: int = 5,
        random_state: int = 0,
    ) -> None:
        self.C = C
        self.secondary_threshold = secondary_threshold
        self.folds = folds
        self.random_state = random_state

    # -- learning -----------------------------------------------------------------------------
    def fit(
        self, X: np.ndarray, y: Sequence[str], sample_weight: np.ndarray | None = None
    ) -> LinearSoftmaxClassifier:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        check_params(C=self.C, secondary_threshold=self.secondary_threshold, folds=self.folds)
        X = np.asarray(X, dtype=np.float64)
        labels = list(y)
        if X.ndim != 2 or X.shape[0] != len(labels):
            raise InputError(f"X must be 2-D with one row per label, got shape {X.shape} for {len(labels)} labels")
        unknown = sorted(set(labels) - set(CATEGORY_IDS))
        if unknown:
            raise InputError(f"unknown categories {unknown}; allowed: {', '.join(CATEGORY_IDS)}")
        classes = [c for c in CATEGORY_IDS if c in set(labels)]
        if len(classes) < 2:
            raise InputError("training needs examples of at least two categories")
        yi = np.array([classes.index(c) for c in labels])
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)

        def model() -> LogisticRegression:
            return LogisticRegression(C=self.C, max_iter=5000, random_state=self.random_state)

        # Cross-validated logits for calibration.
        min_count = int(np.bincount(yi).min())
        folds = min(self.folds, min_count)
        logits = np.zeros((len(yi), len(classes)))
        if folds >= 2:
            skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
            for tr, te in skf.split(X, yi):
                m = model().fit(X[tr], yi[tr], sample_weight=None if sw is None else sw[tr])
                full = np.full((len(te), len(classes)), -1e4)
                full[:, m.classes_] = m.decision_function(X[te])
                logits[te] = full
            self.temperature_ = _fit_temperature(logits, yi)
        else:
            self.temperature_ = 1.0
        final = model().fit(X, yi, sample_weight=sw)
        self.classes_ = classes
        self.coef_ = final.coef_.astype(np.float32)
        self.intercept_ = final.intercept_.astype(np.float32)
        return self

    # -- inference ----------------------------------------------------------------------------
    def _check(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("this LinearSoftmaxClassifier is not fitted yet: call fit() or load an artefact")

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        self._check()
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.coef_.shape[1]:
            raise InputError(f"X must have shape (n, {self.coef_.shape[1]}), got {X.shape}")
        return _softmax((X @ self.coef_.T + self.intercept_) / self.temperature_)

    def predict(self, X: np.ndarray) -> list[Prediction]:
        probs = self.predict_proba(X)
        out: list[Prediction] = []
        for row in probs:
            order = np.argsort(-row, kind="stable")
            top = self.classes_[int(order[0])]
            second = self.classes_[int(order[1])] if len(order) > 1 else None
            secondary = None
            if (
                second is not None
                and top != "other"
                and second != "other"
                and row[order[1]] >= self.secondary_threshold
            ):
                secondary = second
            out.append(Prediction(top, float(row[order[0]]), secondary, tuple(float(p) for p in row)))
        return out
