"""Review queue, confirm/correct with audit, confirmed categories override predictions, retrain
with a promotion gate, rollback — on real SQLite with the deterministic hashing embedder."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import pytest

from feedback_miner.adapters.artefacts import current_version, list_versions, load_classifier
from feedback_miner.adapters.review_store import audit_trail, confirm, confirmations, review_progress, review_queue
from feedback_miner.adapters.store import open_store
from feedback_miner.domain.types import FeedbackItem
from feedback_miner.domain.weeks import week_bounds
from feedback_miner.errors import InputError, NotFoundError
from feedback_miner.services.model_card import update_model_card
from feedback_miner.services.training import load_seeds, retrain_with_confirmations, rollback, train_version
from feedback_miner.services.weekly import run_week
from feedback_miner.testing import HashingEmbedder

ROOT = Path(__file__).resolve().parents[2]
WEEK = "2026-W46"
TEXTS = ["card declined at checkout", "charged twice for my order", "parcel never arrived", "tracking not updating",
         "app crashes on login", "thanks, great help", "please add dark mode", "can't find the returns button"] * 3


@pytest.fixture()
def setup(tmp_path: Path):  # type: ignore[no-untyped-def]
    models = tmp_path / "models"
    (models / "seeds").mkdir(parents=True)
    texts, labels = load_seeds(ROOT / "models" / "seeds")
    keep: dict[str, int] = {}
    rows = []
    for t, c in zip(texts, labels):  # 25 shipped seeds per category keep this test fast
        if keep.get(c, 0) < 25:
            keep[c] = keep.get(c, 0) + 1
            rows.append((t, c))
    with (models / "seeds" / "seeds.csv").open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([("text", "category"), *rows])
    emb = HashingEmbedder()
    texts, labels = load_seeds(models / "seeds")
    train_version(texts, labels, emb, models / "classifier", version="v1")
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    t0 = week_bounds(WEEK)[0]
    for n, text in enumerate(TEXTS):
        store.upsert_feedback(FeedbackItem(text=f"{text} #{n}", source="t", external_id=str(n),
                                           created_at=t0 + timedelta(hours=n)))
    clf, _manifest = load_classifier(models / "classifier")
    run_week(store, emb, clf, week=WEEK, classifier_version="v1")
    return store, emb, models, texts, labels


def test_queue_confirm_audit_and_override(setup) -> None:  # type: ignore[no-untyped-def]
    store, emb, models, *_ = setup
    queue = review_queue(store, week=WEEK)
    assert len(queue) == len(TEXTS)
    assert [q["urgency"] for q in queue] == sorted((q["urgency"] for q in queue), reverse=True)
    first = queue[0]
    res = confirm(store, first["id"], category="payment", reviewer="lead@shop", secondary="technical")
    assert res["old_category"] == first["category"]
    assert review_progress(store, WEEK) == {"total": len(TEXTS), "confirmed": 1, "left": len(TEXTS) - 1}
    assert first["id"] not in {q["id"] for q in review_queue(store, week=WEEK)}
    trail = audit_trail(store, first["id"])
    assert trail[0]["reviewer"] == "lead@shop" and trail[0]["new_category"] == "payment"
    # The confirmed category overrides the prediction in the next run.
    clf, _ = load_classifier(models / "classifier")
    confirm(store, first["id"], category="shipping", reviewer="lead2")
    run_week(store, emb, clf, week=WEEK, classifier_version="v1")
    item = next(i for i in store.feedback_in_weeks([WEEK]) if i.id == first["id"])
    assert item.category == "shipping"
    assert [r["old_category"] for r in audit_trail(store, first["id"])] == ["payment", first["category"]]


def test_bad_review_input_is_named(setup) -> None:  # type: ignore[no-untyped-def]
    store, *_ = setup
    with pytest.raises(InputError, match="category 'billing' is not one of"):
        confirm(store, 1, category="billing", reviewer="x")
    with pytest.raises(NotFoundError, match="no feedback item 99999"):
        confirm(store, 99999, category="payment", reviewer="x")
    with pytest.raises(InputError, match="limit must be"):
        review_queue(store, limit=0)


def test_retrain_promotes_only_if_not_worse_and_rolls_back(setup) -> None:  # type: ignore[no-untyped-def]
    store, emb, models, texts, labels = setup
    root = models / "classifier"
    for q in review_queue(store, week=WEEK, limit=500):
        truth = next(c for k, c in [("card", "payment"), ("charged", "payment"), ("parcel", "shipping"),
                                    ("tracking", "shipping"), ("crash", "technical"), ("thanks", "other"),
                                    ("dark", "feature_request"), ("returns", "user_interface")] if k in q["text"])
        confirm(store, q["id"], category=truth, reviewer="lead")
    assert len(confirmations(store)) == len(TEXTS)
    clf, manifest = load_classifier(root)
    result = retrain_with_confirmations(texts, labels, confirmations(store), emb, root, current=clf,
                                        current_manifest=manifest)
    assert result["version"] == "v2" and list_versions(root) == ["v1", "v2"]
    assert result["promoted"] == (result["candidate_macro_f1"] >= result["current_macro_f1"] - 0.005)
    assert current_version(root) == ("v2" if result["promoted"] else "v1")
    _, m2 = load_classifier(root, "v2")
    assert m2["confirmations"]["train"] + m2["confirmations"]["validation"] == len(TEXTS)
    if result["promoted"]:
        assert rollback(root) == "v1" and current_version(root) == "v1"
    update_model_card(models)
    card = (models / "MODEL_CARD.md").read_text()
    assert "| v1 |" in card and "| v2 |" in card
    assert rollback(root, "v1") == "v1"
    with pytest.raises(InputError, match="no version before v1"):
        rollback(root)
