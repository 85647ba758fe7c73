"""Batch embedding on a real Dask cluster: the same vectors, categories and problems as the local
path; a worker killed mid-batch loses no text; `feedback-miner embed --scheduler` fills the store.

Real parts only: ``distributed.LocalCluster`` (2 worker processes, 1 thread each) and a scheduler
and workers started as separate processes by the ``dask`` CLI on 127.0.0.1; the real
all-MiniLM-L6-v2 on every worker; real SQLite.
"""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from distributed import Client, LocalCluster  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from feedback_miner.adapters.backlog_sql import SqlBacklog  # noqa: E402
from feedback_miner.adapters.distributed.embedder import DaskEmbedder, make_dask_embedder  # noqa: E402
from feedback_miner.adapters.store import Store, open_store  # noqa: E402
from feedback_miner.config import Settings  # noqa: E402
from feedback_miner.domain.types import FeedbackItem, effective_categories  # noqa: E402
from feedback_miner.errors import ConfigError, ModelError  # noqa: E402
from feedback_miner.services.backlog import run_backlog  # noqa: E402
from feedback_miner.services.weekly import run_week  # noqa: E402
from feedback_miner.stages.embed import embed_texts, text_hash  # noqa: E402
from feedback_miner.stages.problems import find_problems  # noqa: E402

pytestmark = pytest.mark.slow
DATA = Path(__file__).resolve().parents[1] / "data" / "real_slice.csv"
WEEK, MONDAY = "2026-W46", datetime(2026, 11, 9, 8, tzinfo=UTC)


def _texts() -> list[str]:
    """300 real texts: 240 banking queries (77 intents: problems form) and 60 app reviews (long ones)."""
    with DATA.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    bank = [r["text"] for r in rows if r["set"] == "banking77"][:240]
    reviews = [r["text"] for r in rows if r["set"] == "review_pulse"][:60]
    return bank + reviews


def _items(texts: list[str]) -> list[FeedbackItem]:
    return [FeedbackItem(text=t, source="test", external_id=str(i), created_at=MONDAY + timedelta(minutes=7 * i))
            for i, t in enumerate(texts)]


def _store(path: Path, texts: list[str]) -> Store:
    store = open_store(f"sqlite:///{path}")
    for item in _items(texts):
        store.upsert_feedback(item)
    return store


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return _texts()


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1") as c:
        yield c


@pytest.fixture(scope="module")
def dask_embedder(cluster: LocalCluster) -> Iterator[DaskEmbedder]:
    emb = DaskEmbedder(cluster.scheduler_address, partition_size=64)
    yield emb
    emb.close()


def _problems(found: Any) -> list[tuple[str, tuple[int, ...], str]]:
    return sorted((p.category, tuple(sorted(p.member_ids)), p.title) for p in found.problems)


def test_distributed_vectors_categories_and_problems_equal_the_local_ones(  # type: ignore[no-untyped-def]
        dask_embedder, real_embedder, shipped_classifier, texts) -> None:
    assert dask_embedder.model_id == real_embedder.model_id == "all-MiniLM-L6-v2"
    remote = embed_texts(texts, dask_embedder)
    local = embed_texts(texts, real_embedder)
    assert remote.shape == local.shape == (len(texts), 384)
    np.testing.assert_allclose(remote, local, atol=1e-5, rtol=0)
    # The workers encode the local runtime's own batches, so the vectors are the same bit for bit
    # (with other batches they differ by ~1e-7, enough to move a text between problems).
    assert (remote == local).all()
    clf, _ = shipped_classifier
    cats_remote = [p.category for p in clf.predict(remote)]
    cats_local = [p.category for p in clf.predict(local)]
    assert cats_remote == cats_local
    items = [FeedbackItem(text=t, source="t", external_id=str(i), created_at=MONDAY, id=i + 1)
             for i, t in enumerate(texts)]
    cats = effective_categories(items, cats_local)
    found_remote, found_local = find_problems(items, remote, cats), find_problems(items, local, cats)
    assert len(found_local.problems) >= 5  # the banking intents form problems: the comparison means something
    assert _problems(found_remote) == _problems(found_local)
    # Each worker loaded the model once, however many partitions it ran.
    infos = dask_embedder.workers()
    assert len({i["pid"] for i in infos}) == 2
    assert [i["loads"] for i in infos] == [1, 1]


def test_onnx_runtime_on_dask_equals_local_and_has_its_own_cache_key(cluster: LocalCluster, texts: list[str]) -> None:
    from feedback_miner.adapters.embedders import OnnxInt8Embedder

    onnx = DaskEmbedder(cluster.scheduler_address, runtime="onnx-int8", batch_size=16, partition_size=48)
    try:
        local = OnnxInt8Embedder(batch_size=16)
        assert onnx.model_id == local.model_id == "all-MiniLM-L6-v2-onnx-int8"  # never the torch runtime's key
        assert (embed_texts(texts, onnx) == embed_texts(texts, local)).all()
    finally:
        onnx.close()


def test_a_partition_from_another_runtime_is_refused(cluster: LocalCluster) -> None:
    emb = DaskEmbedder(cluster.scheduler_address)
    try:
        emb._info = {"model_id": "all-MiniLM-L6-v2-onnx-int8", "dim": 384}  # the client expects another runtime
        with pytest.raises(ModelError, match="different model runtimes"):
            emb.embed(["the app crashes when I pay"])
    finally:
        emb.close()


def test_backlog_on_dask_then_weekly_run_gives_the_local_digest(  # type: ignore[no-untyped-def]
        tmp_path, dask_embedder, real_embedder, shipped_classifier, texts) -> None:
    """The same backfill (chunks of 128) on Dask and in this process, then the same weekly run over
    each store: the same cache, predictions and digest."""
    clf, manifest = shipped_classifier
    version = str(manifest["version"])
    remote_store, local_store = _store(tmp_path / "dask.db", texts), _store(tmp_path / "local.db", texts)
    backlog = SqlBacklog(remote_store)
    assert backlog.count_pending(dask_embedder.model_id) == len(texts)
    rep = run_backlog(backlog, dask_embedder, clf, classifier_version=version, chunk_size=128)
    assert (rep.rows_embedded, rep.texts_embedded, rep.rows_classified) == (len(texts), len(set(texts)), len(texts))
    assert backlog.count_pending(dask_embedder.model_id) == 0 and backlog.count_unpredicted(version) == 0
    again = run_backlog(backlog, dask_embedder, clf, classifier_version=version)
    assert (again.rows_embedded, again.rows_classified) == (0, 0)  # nothing left: nothing re-done
    run_backlog(SqlBacklog(local_store), real_embedder, clf, classifier_version=version, chunk_size=128)

    hashes = [text_hash(t) for t in texts]
    cached_remote = remote_store.get_vectors("all-MiniLM-L6-v2", hashes)
    cached_local = local_store.get_vectors("all-MiniLM-L6-v2", hashes)
    assert len(cached_remote) == len(set(texts))
    assert all((cached_remote[h] == cached_local[h]).all() for h in hashes)
    ids = [i.id for i in remote_store.feedback_in_weeks([WEEK])]
    assert remote_store.predicted_categories(ids) == local_store.predicted_categories(ids)

    d_remote = run_week(remote_store, real_embedder, clf, week=WEEK, classifier_version=version)
    d_local = run_week(local_store, real_embedder, clf, week=WEEK, classifier_version=version)
    assert d_local.top_problems and d_local.counts["problems"] >= 5
    body_remote, body_local = d_remote.to_dict(), d_local.to_dict()
    body_remote.pop("generated_at"), body_local.pop("generated_at")
    assert body_remote == body_local


def test_embed_command_with_scheduler_fills_the_store(tmp_path: Path, cluster: LocalCluster, texts: list[str]) -> None:
    from feedback_miner.cli import app

    db = tmp_path / "cli.db"
    _store(db, texts[:90]).engine.dispose()
    res = CliRunner().invoke(app, ["embed", "--db", f"sqlite:///{db}", "--scheduler", cluster.scheduler_address,
                                   "--chunk", "40"])
    assert res.exit_code == 0, res.output
    # the batch runtime the settings choose (int8 ONNX by default): its own model id, its own cache key
    model_id = "all-MiniLM-L6-v2-onnx-int8" if Settings().embedder == "onnx-int8" else "all-MiniLM-L6-v2"
    assert f"embedded {len(set(texts[:90]))} new texts (90 rows) with {model_id} on the Dask cluster" in res.output
    assert "classified 90 rows" in res.output
    backlog = SqlBacklog(open_store(f"sqlite:///{db}"))
    assert backlog.count_pending(model_id) == 0


def test_unreachable_scheduler_is_a_clear_error(tmp_path: Path) -> None:
    import dask

    from feedback_miner.cli import app

    port = _free_port()
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        res = CliRunner().invoke(app, ["embed", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--scheduler",
                                       f"tcp://127.0.0.1:{port}", "--no-classify"])
    assert res.exit_code == 2
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in res.output
    with pytest.raises(ConfigError, match="no Dask scheduler configured"):
        make_dask_embedder(Settings(dask_scheduler=None))
    with pytest.raises(ValueError, match="not a scheduler address"):
        Settings(dask_scheduler="nonsense")


def test_the_scheduler_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FM_DASK_SCHEDULER", raising=False)
    assert Settings().dask_scheduler is None
    monkeypatch.setenv("FM_DASK_SCHEDULER", "tcp://10.0.0.5:8786")
    assert Settings().dask_scheduler == "tcp://10.0.0.5:8786"


# -- a scheduler and two workers as separate processes; one is killed mid-batch ------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def process_cluster() -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    dask = [sys.executable, "-m", "dask"]
    procs = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    workers = [subprocess.Popen([*dask, "worker", addr, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                 "--host", "127.0.0.1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for _ in range(2)]
    procs += workers
    try:
        yield addr, workers
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _done_partitions(dask_scheduler: Any) -> int:
    return sum(1 for k, ts in dask_scheduler.tasks.items() if str(k).startswith("fm-embed") and ts.state == "memory")


def test_a_worker_killed_mid_batch_loses_no_text(  # type: ignore[no-untyped-def]
        process_cluster, real_embedder, texts) -> None:
    addr, workers = process_cluster
    watcher = Client(addr, timeout=60, set_as_default=False)
    try:
        watcher.wait_for_workers(2, timeout=120)
        emb = DaskEmbedder(addr, batch_size=16, partition_size=16, timeout_s=60)  # 19 partitions; the plugin loads the model on both workers
        pid_of = {int(pid): a for a, pid in watcher.run(os.getpid).items()}
        victim = workers[0]
        victim_addr = pid_of[victim.pid]
        result: dict[str, Any] = {}

        def run() -> None:
            try:
                result["vectors"] = emb.embed(texts)
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                result["error"] = exc

        t = threading.Thread(target=run)
        t.start()
        killed_while: list[str] = []
        deadline = time.monotonic() + 300
        while t.is_alive() and time.monotonic() < deadline:
            busy = [str(k) for k in watcher.processing().get(victim_addr, ()) if str(k).startswith("fm-embed")]
            if busy and watcher.run_on_scheduler(_done_partitions) >= 2:
                victim.send_signal(signal.SIGKILL)
                killed_while = busy
                break
            time.sleep(0.05)
        t.join(timeout=300)
        assert killed_while, "the victim was never seen working on a partition mid-batch"
        assert victim.wait(timeout=10) == -signal.SIGKILL
        assert "error" not in result, result.get("error")
        vectors = result["vectors"]
        assert vectors.shape == (len(texts), 384)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)  # no row left empty
        np.testing.assert_allclose(vectors, real_embedder.embed(texts), atol=1e-5, rtol=0)
        assert len(watcher.scheduler_info()["workers"]) == 1  # the partitions were re-run on the survivor
        emb.close()
    finally:
        watcher.close()
