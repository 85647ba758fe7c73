from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def real_embedder():  # type: ignore[no-untyped-def]
    """The real all-MiniLM-L6-v2 model, loaded once per test session."""
    from feedback_miner.adapters.embedders import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def shipped_classifier():  # type: ignore[no-untyped-def]
    from feedback_miner.adapters.artefacts import load_classifier

    return load_classifier(ROOT / "models" / "classifier")


@pytest.fixture()
def out_dir(tmp_path: Path) -> Path:
    """Tests write artefacts (screenshots, digests) under test-output/ when FM_TEST_OUTPUT is set."""
    base = os.environ.get("FM_TEST_OUTPUT")
    if base:
        p = Path(base)
        p.mkdir(parents=True, exist_ok=True)
        return p
    return tmp_path
