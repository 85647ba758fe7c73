"""Fixtures for the browser tests: the real server over a seeded SQLite file, and headless Chromium.

The server is ``feedback-miner serve`` (uvicorn on 127.0.0.1, the real embedding model and the
shipped classifier) started by tests/api/live.py. The store holds two demo weeks, both run.
Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright; no browser is ever downloaded.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from feedback_miner.adapters.keys import create_key
from feedback_miner.adapters.readers import read_rows
from feedback_miner.adapters.store import open_store
from feedback_miner.demo.generate import write_demo_csv
from feedback_miner.stages.ingest import ColumnMapping, IngestReport, parse_rows
from tests.api.live import live_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
WEEKS = ("2026-W45", "2026-W46")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Live:
    base: str
    keys: dict[str, str]  # role → plain key
    names: dict[str, str]  # role → key name (the reviewer name the audit trail shows)
    facts: dict[str, str] = field(default_factory=dict)  # what a fixture set up between runs (e.g. a fixed id)

    def api(self, role: str) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=120, headers={"X-API-Key": self.keys[role]})


def run_and_wait(live: Live, week: str, timeout: float = 300) -> dict[str, Any]:
    """POST /v1/runs for ``week`` (admin) and poll until that new run has ended."""
    with live.api("admin") as c:
        seen = max((x["id"] for x in c.get("/v1/runs").json()), default=0)
        r = c.post("/v1/runs", json={"week": week})
        assert r.status_code == 202, r.text
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            runs = [x for x in c.get("/v1/runs").json() if x["week"] == week and x["id"] > seen]
            if runs and runs[0]["status"] != "running":
                return dict(runs[0])
            time.sleep(0.5)
    raise AssertionError(f"run of {week} did not finish in {timeout} s")


def _need(what: str, ok: bool) -> None:
    """Missing browser pieces fail in CI (scripts/ci-system-deps.sh installs them) and skip elsewhere."""
    if not ok:
        msg = f"{what} is missing: run scripts/ci-system-deps.sh and scripts/setup.sh"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(scope="session")
def out_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Screenshots go under $FM_TEST_OUTPUT/browser when it is set (scripts/test.sh: test-output/, kept
    as CI artefacts), else under the session's pytest tmp path."""
    base = os.environ.get("FM_TEST_OUTPUT")
    p = Path(base) / "browser" if base else tmp_path_factory.mktemp("screenshots")
    p.mkdir(parents=True, exist_ok=True)
    return p


SEVERE_ONE_OFFS = (  # unlike anything in the demo; if one joins a problem, the severe-section test says so
    "The phone charger I bought here caught fire on my desk last night, this is dangerous",
    "Someone logged into my account from abroad and I am locked out now, my account was hacked",
)


def _add_severe_one_offs(path: Path) -> None:
    """Two severe reports in the last week, so the digest page always has a severe section to show
    (whether the demo's own severe texts join a problem depends on the CPU's float paths)."""
    import csv
    from datetime import date

    year, week = (int(x) for x in WEEKS[-1].split("-W"))
    with path.open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    with path.open("a", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=header)
        for n, text in enumerate(SEVERE_ONE_OFFS):
            day = date.fromisocalendar(year, week, 3 + n)  # midweek of the last week
            w.writerow({"external_id": f"SEVERE-{n}", "source": "demo", "created_at": f"{day.isoformat()}T10:00:00Z",
                        "channel": "email", "text": text})


@contextmanager
def seeded_server(d: Path, after_run: Callable[[Live, str], None] | None = None) -> Iterator[Live]:
    """The real server over a SQLite store of two demo weeks, both run (``after_run(live, week)``
    is called after each week's run, e.g. to mark a problem fixed before the next one)."""
    url = f"sqlite:///{d / 'pages.db'}"
    store = open_store(url)
    write_demo_csv(d / "demo.csv", weeks=2, end_week=WEEKS[-1], per_week=60)
    _add_severe_one_offs(d / "demo.csv")
    report = IngestReport()
    for item in parse_rows(read_rows(d / "demo.csv"), ColumnMapping(), default_source="demo", report=report):
        store.upsert_feedback(item)
    assert report.read > 100 and not report.errors, report.summary()
    names = {"lead": "Lee Lead", "reader": "Rae Reader", "admin": "Ada Admin"}
    keys = {role: create_key(store, role=role, name=name)[0] for role, name in names.items()}
    with live_server(url, log=d / "server.log") as base:
        lv = Live(base, keys, names, facts={"csv": str(d / "demo.csv")})
        for w in WEEKS:
            assert run_and_wait(lv, w)["status"] == "done"
            if after_run is not None:
                after_run(lv, w)
        yield lv


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with seeded_server(tmp_path_factory.mktemp("browser")) as lv:
        yield lv


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    _need(CHROMIUM, Path(CHROMIUM).exists())
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("the playwright package", False)
        raise
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def login(browser: Any, live: Live, role: str, *, viewport: dict[str, int] = DESKTOP, next_path: str = "/",
          mobile: bool = False) -> Any:
    """A new browser context logged in as ``role`` through the login form (typed, submitted with Enter)."""
    ctx = browser.new_context(viewport=viewport, is_mobile=mobile, has_touch=mobile,
                              device_scale_factor=2 if mobile else 1)
    ctx.set_default_timeout(20_000)
    page = ctx.new_page()
    page.goto(f"{live.base}/login?next={next_path}")
    page.get_by_label("API key").fill(live.keys[role])
    page.get_by_label("API key").press("Enter")
    page.wait_for_url(lambda u: "/login" not in u)
    return page
