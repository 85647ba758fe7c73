from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from feedback_miner.adapters.artefacts import load_classifier, promote, save_classifier
from feedback_miner.errors import InputError, NotFittedError
from feedback_miner.stages.classify import LinearSoftmaxClassifier
from feedback_miner.stages.evaluation import macro_f1, reliability
from feedback_miner.testing import HashingEmbedder

TEXTS = {
    "payment": ["card declined at checkout", "charged twice for my order", "refund not received yet",
                "payment failed with error", "my card was charged twice", "refund still missing"],
    "shipping": ["parcel has not arrived", "tracking number not updating", "package arrived damaged",
                 "delivery is late again", "my parcel is lost", "courier never delivered the package"],
    "other": ["thanks for the great help", "love this shop", "great service thank you",
              "very helpful agent thanks", "love the app", "great help from the team"],
}


def _data() -> tuple[np.ndarray, list[str]]:
    texts = [t for ts in TEXTS.values() for t in ts]
    labels = [c for c, ts in TEXTS.items() for _ in ts]
    return HashingEmbedder().embed(texts), labels


def test_unfitted_raises_clear_error() -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        LinearSoftmaxClassifier().predict(np.zeros((1, 8), dtype=np.float32))


@pytest.mark.parametrize(("kw", "msg"), [({"C": 0}, "C must be"), ({"secondary_threshold": 1.5}, "secondary_threshold"),
                                          ({"folds": 1}, "folds")])
def test_params_are_checked_at_fit(kw: dict[str, float], msg: str) -> None:
    X, y = _data()
    with pytest.raises(InputError, match=msg):
        LinearSoftmaxClassifier(**kw).fit(X, y)  # type: ignore[arg-type]


def test_fit_predict_and_probabilities() -> None:
    X, y = _data()
    clf = LinearSoftmaxClassifier(C=4.0, folds=3).fit(X, y)
    assert clf.temperature_ > 0
    preds = clf.predict(HashingEmbedder().embed(["my card was declined at checkout", "thanks, great service"]))
    assert [p.category for p in preds] == ["payment", "other"]
    probs = clf.predict_proba(X)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_artefact_roundtrip_without_pickle(tmp_path: Path) -> None:
    X, y = _data()
    clf = LinearSoftmaxClassifier(folds=3).fit(X, y)
    save_classifier(clf, tmp_path, "v1", embedder_id="hashing-256", training_fingerprint="abc", n_train=len(y))
    promote(tmp_path, "v1")
    loaded, manifest = load_classifier(tmp_path)
    assert manifest["labels"] == clf.classes_ and manifest["version"] == "v1"
    assert np.allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-6)
    with np.load(tmp_path / "v1" / "weights.npz", allow_pickle=False) as w:
        assert set(w.files) == {"coef", "intercept"}


def test_metrics_helpers() -> None:
    assert macro_f1(["a", "b", "b"], ["a", "b", "a"]) == pytest.approx((2 / 3 + 2 / 3) / 2)
    r = reliability(["a", "b"], ["a", "a"], [0.95, 0.55])
    assert r["ece"] == pytest.approx(0.5 * 0.05 + 0.5 * 0.55)
