"""Several workers share one models directory: one model change at a time across processes, and a
version promoted by one process is served by the others (api/model_sync.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.model_sync import ModelChangeLock
from feedback_miner.adapters.store import Store
from feedback_miner.config import Settings
from feedback_miner.testing import HashingEmbedder
from tests.conftest import ROOT

_HOLD = """
import sys, time
from pathlib import Path
from api.model_sync import ModelChangeLock
lock = ModelChangeLock(Path(sys.argv[1]))
assert lock.acquire(blocking=False)
print("held", flush=True)
time.sleep(60)
"""


def test_a_model_change_in_another_process_holds_the_apps_lock(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", _HOLD, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "held"
        lock = create_app(Settings(models_dir=tmp_path)).state.model_lock  # what retrain/rollback take
        assert lock.acquire(blocking=False) is False  # the other worker is retraining
    finally:
        other.kill()
        other.wait(timeout=10)
        if other.stdout is not None:
            other.stdout.close()
    assert lock.acquire(blocking=False) is True  # its process ended: the lock is free
    assert ModelChangeLock(tmp_path).acquire(blocking=False) is False  # and now held here
    lock.release()


def test_a_worker_serves_the_version_another_process_promoted(tmp_path: Path, db_url: str, store: Store) -> None:
    models = tmp_path / "models"
    shutil.copytree(ROOT / "models" / "classifier", models / "classifier")
    (models / "classifier" / "CURRENT").write_text("v2\n")
    app = create_app(Settings(database_url=db_url, models_dir=models), embedder=HashingEmbedder(dim=384), store=store)
    with TestClient(app) as c:
        assert c.get("/readyz").json()["checks"]["classifier_version"] == "v2"
        (models / "classifier" / "CURRENT").write_text("v1\n")  # what a rollback through another worker writes
        time.sleep(2.1)  # the middleware looks at most every 2 s
        assert c.get("/readyz").json()["checks"]["classifier_version"] == "v1"
