"""Fixtures for API tests: an app over a fresh store with deterministic doubles, and keys per role.

The store is the root conftest's parametrised one: a SQLite file, and a fresh PostgreSQL database
when ``FM_TEST_POSTGRES_URL`` is set (always in CI), so every test using ``client`` runs on both."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from feedback_miner.adapters.keys import ROLES, create_key
from feedback_miner.adapters.store import Store
from feedback_miner.config import Settings
from feedback_miner.domain.types import CATEGORY_IDS
from feedback_miner.stages.classify import LinearSoftmaxClassifier
from feedback_miner.testing import HashingEmbedder

SECRETS = {"zendesk_secret": "zd-test-secret", "freshdesk_secret": "fd-test-secret", "jira_secret": "jira-test-secret"}

CATEGORY_KEYWORDS = {
    "technical": "error crash bug slow loading broken link glitch freeze timeout app",
    "user_interface": "navigation menu layout confusing find button screen search filter",
    "payment": "payment card checkout charged refund declined transaction twice paypal",
    "account": "login password account sign reset locked verification",
    "shipping": "shipping delivery package parcel tracking late damaged courier arrived",
    "feature_request": "please add feature wish would love option dark mode",
    "other": "thanks great awesome good nice happy best",
}


def keyword_classifier(embedder: HashingEmbedder) -> LinearSoftmaxClassifier:
    """A fitted classifier double whose class weights are the hashed keywords of each category."""
    clf = LinearSoftmaxClassifier()
    clf.classes_ = list(CATEGORY_IDS)
    clf.coef_ = embedder.embed([CATEGORY_KEYWORDS[c] for c in CATEGORY_IDS]).astype(np.float32)
    clf.intercept_ = np.zeros(len(CATEGORY_IDS), dtype=np.float32)
    clf.temperature_ = 0.1
    return clf


@pytest.fixture()
def settings(db_url: str) -> Settings:
    """The app's settings over the test's fresh database (the same one the ``store`` fixture opens)."""
    return Settings(database_url=db_url, max_body_bytes=64_000, max_batch_items=50, **SECRETS)


@pytest.fixture()
def embedder() -> HashingEmbedder:
    return HashingEmbedder(dim=128)


@pytest.fixture()
def client(settings: Settings, store: Store, embedder: HashingEmbedder) -> Iterator[TestClient]:
    app = create_app(settings, embedder=embedder, classifier=keyword_classifier(embedder), store=store)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture()
def keys(store: Store) -> dict[str, str]:
    """One plain key per role."""
    return {role: create_key(store, role=role, name=f"test {role}")[0] for role in ROLES}


def auth(key: str) -> dict[str, str]:
    return {"X-API-Key": key}
