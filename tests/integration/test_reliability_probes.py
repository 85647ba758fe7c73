"""Every probe of the privacy/hardening issue as a fast assertion, so CI fails when one regresses.

The probes are the functions of ``benchmarks/bench_reliability.py`` (which reruns them against a
real server on a socket); here they run in-process: the app under Starlette's TestClient with the
embedding/classifier doubles of tests/api/conftest.py over a real SQLite file, every CLI command
through Typer's CliRunner, ``classify`` with the real model. Key revocation "in another process"
runs ``feedback-miner keys revoke`` in a real subprocess. The whole module takes about half a minute.
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from api.app import create_app
from benchmarks.bench_reliability import (
    LEAKS,
    PROBES,
    PSEUDONYM_KEY,
    SECRETS,
    CliResult,
    Harness,
    Outcome,
    prepare,
    probe_pii_api,
    raw_grep,
)
from feedback_miner.adapters.keys import ROLES, create_key
from feedback_miner.adapters.store import open_store
from feedback_miner.cli import app as cli_app
from feedback_miner.config import Settings
from feedback_miner.testing import HashingEmbedder
from tests.api.conftest import keyword_classifier

ROOT = Path(__file__).resolve().parents[2]


class InProcess:
    """The :class:`~benchmarks.bench_reliability.Harness` over an in-process app."""

    def __init__(self, app: FastAPI, client: TestClient, keys: dict[str, str], db_url: str, tmp: Path) -> None:
        self.app, self.http, self.local, self.keys, self.db_url, self.tmp = app, client, client, keys, db_url, tmp

    def cli(self, args: Sequence[str]) -> CliResult:
        r = CliRunner().invoke(cli_app, list(args), env={"FM_PSEUDONYM_KEY": PSEUDONYM_KEY})
        err = r.stderr
        if r.exception is not None and not isinstance(r.exception, SystemExit):
            err += "Traceback (in-process)\n" + "".join(traceback.format_exception(r.exception))
        return CliResult(r.exit_code, r.stdout, err)

    def client_from(self, address: str) -> TestClient:
        """Another client address (its own rate-limit bucket) on the same running app."""
        return TestClient(self.app, client=(address, 50000), raise_server_exceptions=False)

    def revoke_elsewhere(self, key_id: str) -> None:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        subprocess.run([sys.executable, "-m", "feedback_miner.cli", "keys", "revoke", key_id, "--db", self.db_url],
                       check=True, capture_output=True, env=env, cwd=ROOT, timeout=120)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    tmp = tmp_path_factory.mktemp("probes")
    url = f"sqlite:///{tmp / 'probes.db'}"
    settings = Settings(database_url=url, pseudonym_key=SecretStr(PSEUDONYM_KEY), zendesk_secret=SECRETS["zendesk"],
                        freshdesk_secret=SECRETS["freshdesk"], jira_secret=SECRETS["jira"])
    store = open_store(url)
    keys = {role: create_key(store, role=role, name=f"probe {role}")[0] for role in ROLES}
    emb = HashingEmbedder(dim=128)
    app = create_app(settings, embedder=emb, classifier=keyword_classifier(emb), store=store)
    with TestClient(app, raise_server_exceptions=False) as client:
        h = InProcess(app, client, keys, url, tmp)
        prepare(h, per_week=60)
        yield h


def _check(h: Harness, probe: Callable[[Harness], Outcome]) -> None:
    out = probe(h)
    assert out.ok, f"{out.probe}: {out.figure}\n{out.detail}"


@pytest.mark.parametrize("probe", PROBES, ids=[p.__name__.removeprefix("probe_") for p in PROBES])
def test_probe(harness: InProcess, probe: Callable[[Harness], Outcome]) -> None:
    _check(harness, probe)


def test_raw_sqlite_bytes_hold_no_leaked_value(harness: InProcess) -> None:
    """The values of the PII probe, grepped in the SQLite file and its WAL (all tables, free pages)."""
    db = Path(harness.db_url.removeprefix("sqlite:///"))
    files = [db, db.with_name(db.name + "-wal")]
    before = raw_grep(files, LEAKS)
    assert sum(before.values()) == 0, before
    probe = probe_pii_api(harness)  # stores the values again under new ids (or finds them stored already)
    hits = raw_grep(files, LEAKS)
    assert sum(hits.values()) == 0, hits
    # the grep itself finds a value that is there: a raw copy written next to the store
    control = harness.tmp / "control.bin"
    control.write_bytes(db.read_bytes() + LEAKS[0].encode())
    assert raw_grep([control], LEAKS)[LEAKS[0]] == 1
    assert probe.detail.get("status") == 200
