"""Shared fixtures: the real model and classifier, an output dir, and one parametrised SQL store.

The store fixtures (``db_backend``, ``db_url``, ``module_db_url``, ``store``) run a test on SQLite
and, when ``FM_TEST_POSTGRES_URL`` points at a PostgreSQL server, again on PostgreSQL, each time
in a fresh database (a SQLite file in the test's temp dir; ``CREATE DATABASE fm_<random>`` on the
server, dropped ``WITH (FORCE)`` after). In CI (``CI=1``) PostgreSQL is always a backend: without
a reachable server those tests fail, never skip. ``scripts/ci-postgres.sh`` starts a server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from feedback_miner.adapters.store import Store

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ENV = "FM_TEST_POSTGRES_URL"

__all__ = ["POSTGRES_ENV", "ROOT", "fresh_database", "in_ci", "store_backends"]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def store_backends() -> list[str]:
    """The SQL backends a store test runs on: SQLite always; PostgreSQL when a server is configured,
    and always in CI (where a missing server is then a failure)."""
    return ["sqlite", "postgresql"] if os.environ.get(POSTGRES_ENV) or in_ci() else ["sqlite"]


def _postgres_base() -> str:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.fail(f"CI=1 requires PostgreSQL but {POSTGRES_ENV} is not set; run the tests through "
                    "scripts/ci-postgres.sh (it starts a throwaway server)", pytrace=False)
    return base


def _collect_undisposed_engines() -> None:
    """A store opened by an in-process CLI call (Typer's CliRunner) is never disposed: a real CLI
    process exits. Its pooled psycopg connections then close when garbage-collected, with a
    ResourceWarning (an error under this suite's filters). Collect them now, quietly, before the
    database is dropped; nothing else is silenced."""
    import gc
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*psycopg\.Connection.*deleted while still open",
                                category=ResourceWarning)
        gc.collect()
    # What survives is long-lived (imported modules, loaded models, session fixtures): freeze it, so
    # the next collection walks only what later tests create. Collecting the whole heap of a late
    # session made each of the suite's ~180 PostgreSQL teardowns take 2-2.5 s; with the freeze they
    # fell out of pytest's 40 slowest, and the suite went from 1,025 to 716 s on a 2-core machine, of
    # which 58 s came from test_jit_cache compiling UMAP once less (one run each).
    gc.freeze()


@contextmanager
def fresh_database(backend: str, directory: Path, name: str = "fm") -> Iterator[str]:
    """A SQLAlchemy URL of a new, empty database on ``backend``; a PostgreSQL one is dropped after."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / f'{name}.db'}"
        return
    if backend != "postgresql":
        raise AssertionError(f"unknown backend {backend!r}")
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.exc import SQLAlchemyError

    base = make_url(_postgres_base())
    db = f"fm_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{db}"'))
    except SQLAlchemyError as exc:
        admin.dispose()
        pytest.fail(f"PostgreSQL at {base.host}:{base.port} did not create a database: {exc}", pytrace=False)
    try:
        yield base.set(database=db).render_as_string(hide_password=False)
    finally:
        _collect_undisposed_engines()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module", params=store_backends())
def db_backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql``; tests using a store run once per backend."""
    return str(request.param)


@pytest.fixture()
def db_url(db_backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for one test."""
    with fresh_database(db_backend, tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def module_db_url(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty database shared by the tests of one module (per backend)."""
    with fresh_database(db_backend, tmp_path_factory.mktemp(f"db-{db_backend}")) as url:
        yield url


@pytest.fixture()
def store(db_url: str) -> Iterator[Store]:
    """The SQL store over a fresh database (migrated on open), on each backend."""
    from feedback_miner.adapters.store import open_store

    s = open_store(db_url)
    yield s
    s.engine.dispose()


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
