"""``feedback-miner serve --workers 2`` for real: what the workers share lives in the store.

One server (two uvicorn worker processes, the real model in each) over PostgreSQL when
``FM_TEST_POSTGRES_URL`` is set (always in CI), else over a SQLite file. Connections are kept
alive, so every request of one ``httpx.Client`` reaches the worker that accepted its connection;
``/readyz`` names that worker (``checks.worker``, its process id), and the tests hold one client
pinned to each worker. Each test then does something through one worker and checks the other:
a page session and its CSRF token, a revoked key, a client blocked after failed key checks and
after failed logins. Rate-limit tests send ``X-Forwarded-For`` (uvicorn trusts it from 127.0.0.1)
so each has its own client address and blocks nobody else.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import POSTGRES_ENV, ROOT, fresh_database, in_ci

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 240.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Worker:
    """A keep-alive client whose connection one worker process accepted."""

    client: httpx.Client
    pid: int

    def _on(self) -> int:
        return int(self.client.get("/readyz").json()["checks"]["worker"])

    def _repin(self) -> None:
        """uvicorn closes a connection idle for 5 s (e.g. while the other worker was still loading its
        model): open new ones until one reaches this worker again."""
        for _ in range(200):
            if self._on() == self.pid:
                return
            base = self.client.base_url
            self.client.close()
            self.client = httpx.Client(base_url=base, timeout=60)
        raise AssertionError(f"no new connection reached worker {self.pid}")

    def request(self, method: str, url: str, *, cookie: str | None = None, **kw: Any) -> httpx.Response:
        """``method url`` on this worker (checked before and after on the same connection); cookies
        only as given (the client's own jar is emptied around each request)."""
        self._repin()
        self.client.cookies.clear()
        headers = dict(kw.pop("headers", {}))
        if cookie:
            headers["Cookie"] = cookie
        r = self.client.request(method, url, headers=headers, **kw)
        self.client.cookies.clear()
        assert self._on() == self.pid, "the connection moved to another worker during the request"
        return r


@dataclass
class Server:
    base: str
    url: str
    keys: dict[str, str]
    workers: tuple[Worker, Worker]
    log: Path


def _start(db_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FM_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", FM_ONLINE_THREADS="1", PYTHONPATH=str(ROOT))
    with log.open("wb") as out:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "feedback_miner.cli", "serve", "--workers", "2", "--host", "127.0.0.1",
             "--port", str(port), "--db", db_url],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # uvicorn's supervisor stops its workers
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # our own session: the supervisor and its workers
            proc.wait(timeout=10)


def _pin_both(base: str, proc: subprocess.Popen[bytes], log: Path) -> tuple[Worker, Worker]:
    """One client per worker, once both have loaded their model (a worker accepts connections only
    after its start-up, so until then the other one answers every new connection)."""
    pinned: dict[int, Worker] = {}
    deadline = time.monotonic() + START_TIMEOUT_S
    while len(pinned) < 2:
        if proc.poll() is not None:
            pytest.fail(f"the server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"not two ready workers within {START_TIMEOUT_S:g} s (saw {sorted(pinned)}):\n"
                        f"{log.read_text(errors='replace')[-3000:]}")
        c = httpx.Client(base_url=base, timeout=60)
        try:
            r = c.get("/readyz")
        except httpx.TransportError:
            c.close()
            time.sleep(0.5)
            continue
        pid = int(r.json()["checks"]["worker"]) if r.status_code == 200 else None
        if pid is None or pid in pinned:
            c.close()
            time.sleep(0.05)
            continue
        pinned[pid] = Worker(c, pid)
    a, b = pinned.values()
    return a, b


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from feedback_miner.adapters.keys import create_key
    from feedback_miner.adapters.store import open_store

    backend = "postgresql" if os.environ.get(POSTGRES_ENV) or in_ci() else "sqlite"
    tmp = tmp_path_factory.mktemp("serve-workers")
    with fresh_database(backend, tmp) as url:
        store = open_store(url)
        keys = {n: create_key(store, role="reader", name=f"workers {n}")[0]
                for n in ("login", "revoked", "limited", "login-limited")}
        keys["ingest"] = create_key(store, role="ingest", name="workers ingest")[0]
        store.engine.dispose()
        port, log = _free_port(), tmp / "server.log"
        proc = _start(url, port, log)
        base = f"http://127.0.0.1:{port}"
        try:
            workers = _pin_both(base, proc, log)
            yield Server(base, url, keys, workers, log)
            for w in workers:
                w.client.close()
        finally:
            _stop(proc)


def test_each_worker_is_ready_with_its_own_model(server: Server) -> None:
    from feedback_miner.adapters.store import open_store
    from feedback_miner.adapters.tables import app_secrets

    a, b = server.workers
    assert a.pid != b.pid
    for w in server.workers:
        r = w.request("GET", "/readyz")
        assert r.status_code == 200, r.text
        checks = r.json()["checks"]
        assert checks["model"] is True and checks["store"] is True
        assert checks["model_id"] and checks["classifier_version"] not in (None, "injected")
        got = w.request("POST", "/v1/classify", headers={"X-API-Key": server.keys["ingest"]},
                        json={"texts": ["I was charged twice for one order and want a refund"]})
        assert got.status_code == 200, got.text
        assert got.json()["results"][0]["category"] == "payment"  # the real model and classifier
    log = server.log.read_text(errors="replace")
    assert log.count("Application startup complete") == 2, log[-2000:]  # one start-up (model load) each
    store = open_store(server.url)
    try:
        with store.tx() as c:  # FM_SESSION_SECRET unset: the workers sign with the store's one key
            assert c.execute(app_secrets.select()).all() and len(c.execute(app_secrets.select()).all()) == 1
    finally:
        store.engine.dispose()


def _login(via_form: Worker, via_post: Worker, key: str, **kw: Any) -> httpx.Response:
    """The login form fetched from one worker, posted to another."""
    page = via_form.request("GET", "/login", **kw)
    assert page.status_code == 200, page.text
    token = page.cookies["fm_login"]
    return via_post.request("POST", "/login", cookie=f"fm_login={token}",
                            data={"api_key": key, "csrf": token, "next": "/"}, **kw)


def _csrf_of(session_cookie: str) -> str:
    body = session_cookie.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["csrf"])


def test_a_session_and_its_csrf_token_hold_on_the_other_worker(server: Server) -> None:
    a, b = server.workers
    for one, other in ((a, b), (b, a)):
        r = _login(other, one, server.keys["login"])  # login form of one worker accepted by the other
        assert r.status_code == 303, r.text
        session = r.cookies["fm_session"]
        for w in (one, other):
            page = w.request("GET", "/", cookie=f"fm_session={session}")
            assert page.status_code == 200 and 'name="api_key"' not in page.text, (w.pid, page.status_code)
        anonymous = other.request("GET", "/")
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
        # a page write on the other worker: its CSRF token is checked there, not just ignored
        wrong = other.request("POST", "/logout", cookie=f"fm_session={session}", data={"csrf": "x" * 43},
                              headers={"Accept": "application/json"})
        assert wrong.status_code == 403, wrong.text
        right = other.request("POST", "/logout", cookie=f"fm_session={session}", data={"csrf": _csrf_of(session)})
        assert right.status_code == 303 and right.headers["location"] == "/login"


def test_a_revoked_key_is_refused_by_every_worker_at_once(server: Server) -> None:
    from feedback_miner.adapters.keys import revoke_key
    from feedback_miner.adapters.store import open_store

    key = server.keys["revoked"]
    h = {"X-API-Key": key, "Accept": "application/json"}
    for w in server.workers:  # both workers have just verified it
        assert w.request("GET", "/v1/problems", headers=h).status_code == 200
    store = open_store(server.url)
    try:
        revoke_key(store, key.split("_")[1])  # from another process, as `feedback-miner keys revoke` does
    finally:
        store.engine.dispose()
    for w in server.workers:
        r = w.request("GET", "/v1/problems", headers=h)
        assert r.status_code == 401 and "revoked" in r.text, (w.pid, r.status_code, r.text)


def test_a_client_blocked_through_one_worker_is_blocked_by_the_other(server: Server) -> None:
    from feedback_miner.adapters.ratelimit import MAX_FAILURES

    a, b = server.workers
    good = {"X-API-Key": server.keys["limited"], "X-Forwarded-For": "198.51.100.7"}
    assert b.request("GET", "/v1/problems", headers=good).status_code == 200  # b knows this key is good
    bad = {"X-API-Key": "fm_0badc0de_not-a-real-key", "X-Forwarded-For": "198.51.100.7"}
    codes = [a.request("GET", "/v1/problems", headers=bad).status_code for _ in range(MAX_FAILURES + 1)]
    assert codes == [401] * MAX_FAILURES + [429], codes
    for w in (b, a):  # blocked everywhere, even with a good key
        r = w.request("GET", "/v1/problems", headers=good)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0, (w.pid, r.status_code, r.text)
    other_client = {**good, "X-Forwarded-For": "198.51.100.99"}
    assert b.request("GET", "/v1/problems", headers=other_client).status_code == 200  # only that client


def test_failed_logins_through_one_worker_block_the_login_on_the_other(server: Server) -> None:
    from feedback_miner.adapters.ratelimit import MAX_FAILURES

    a, b = server.workers
    xff = {"headers": {"X-Forwarded-For": "198.51.100.8"}}
    codes = [_login(b, a, "fm_0badc0de_wrong", **xff).status_code for _ in range(MAX_FAILURES)]
    assert codes == [401] * MAX_FAILURES, codes
    r = _login(a, b, server.keys["login-limited"], **xff)  # the right key, on the other worker
    assert r.status_code == 429 and "fm_session" not in r.cookies, (r.status_code, r.text)
