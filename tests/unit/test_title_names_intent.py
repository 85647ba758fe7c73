"""The title-names-intent measure: a title counts when its embedding is nearest its own intent's name."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from feedback_miner.errors import InputError
from feedback_miner.stages.evaluation import intent_name, title_names_intent

_AXES = {"card": 0, "arrival": 1, "refund": 2, "track": 3}


def _embed(texts: Sequence[str]) -> np.ndarray:
    """One axis per known word (a bag of words, unit length): enough to make nearest names clear."""
    out = np.zeros((len(texts), len(_AXES)), dtype=np.float32)
    for i, t in enumerate(texts):
        for w in t.lower().split():
            if w in _AXES:
                out[i, _AXES[w]] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def test_intent_names_are_words() -> None:
    assert intent_name("card_arrival") == "card arrival"
    assert intent_name("reverted_card_payment?") == "reverted card payment"


def test_share_of_titles_nearest_their_own_intent() -> None:
    intents = ["card_arrival", "get_refund", "track_refund"]
    titles = ["Card arrival late", "Refund please", "Track my refund", "Card arrival"]
    majority = ["card_arrival", "get_refund", "track_refund", "get_refund"]
    # 1, 2 and 3 are nearest their own intent's name ("refund" alone: get refund 1.0, track refund 0.71);
    # 4 names card_arrival, not its own get_refund
    assert title_names_intent(titles, majority, intents, _embed) == 0.75
    assert title_names_intent([], [], intents, _embed) == 0.0
    with pytest.raises(InputError):
        title_names_intent(["x"], [], intents, _embed)
