"""The weekly schedule: when it fires, that SIGTERM stops the loop cleanly, the deploy units'
syntax (systemd-analyze verify, or a parser check of the keys they rely on), and one real cycle
(`schedule --once`: the real model runs the week, the summary reaches a local webhook)."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as tod
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from feedback_miner.cli import app
from feedback_miner.domain.weeks import last_complete_week
from feedback_miner.errors import InputError
from feedback_miner.services.delivery import StopFlag, next_run, parse_time_of_day, run_schedule
from tests.integration.test_delivery import serve_webhook, slack_text

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
SIX = tod(6, 0, tzinfo=UTC)


@pytest.fixture()
def hook() -> Iterator[Any]:
    yield from serve_webhook()


def _utc(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


@pytest.mark.parametrize(("now", "due"), [
    ("2026-11-16 05:59:59", "2026-11-16 06:00:00"),  # Monday, before the time
    ("2026-11-16 06:00:00", "2026-11-23 06:00:00"),  # exactly then: strictly after, so next week
    ("2026-11-16 06:00:01", "2026-11-23 06:00:00"),
    ("2026-11-22 23:59:00", "2026-11-23 06:00:00"),  # Sunday night
    ("2026-11-18 12:00:00", "2026-11-23 06:00:00"),  # Wednesday
])
def test_next_run_is_the_next_monday_at_the_time(now: str, due: str) -> None:
    assert next_run(_utc(now), SIX) == _utc(due)
    assert next_run(_utc(now).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo")), SIX) == _utc(due)


def test_schedule_time_must_be_hh_mm() -> None:
    assert parse_time_of_day("23:30") == tod(23, 30, tzinfo=UTC)
    with pytest.raises(InputError, match="FM_SCHEDULE_TIME"):
        parse_time_of_day("6 o'clock")


def test_loop_runs_the_last_complete_week_on_mondays_and_stops_between_steps() -> None:
    now = [_utc("2026-11-21 10:00:00")]  # a Saturday
    sleeps: list[float] = []
    ran: list[str] = []
    stop = StopFlag()

    def sleep(s: float) -> None:
        sleeps.append(s)
        now[0] += timedelta(seconds=s)

    def cycle(due: datetime) -> None:
        ran.append(last_complete_week(due))
        now[0] += timedelta(minutes=3)  # the run takes a while
        if len(ran) == 2:
            stop.set()

    run_schedule(cycle, SIX, stop, clock=lambda: now[0], sleep=sleep, step_s=60.0)
    assert ran == ["2026-W47", "2026-W48"]  # Mon 23 Nov runs W47, Mon 30 Nov runs W48
    assert max(sleeps) <= 60.0 and now[0] < _utc("2026-11-30 06:10:00")
    # a stop request during the wait ends it within one step, and no cycle runs
    stop2, calls = StopFlag(), []

    def sleep2(s: float) -> None:
        calls.append(s)
        if len(calls) == 3:
            stop2.set()

    run_schedule(lambda d: ran.append("never"), SIX, stop2, clock=lambda: now[0], sleep=sleep2, step_s=1.0)
    assert len(calls) == 3 and ran[-1] != "never"


def _cli() -> list[str]:
    return [sys.executable, "-m", "feedback_miner.cli"]


def test_sigterm_stops_the_schedule_loop(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FM_")}
    env |= {"FM_SLACK_WEBHOOK_URL": "https://hooks.example.invalid/services/x", "FM_SCHEDULE_TIME": "06:00"}
    p = subprocess.Popen([*_cli(), "schedule", "--db", f"sqlite:///{tmp_path / 's.db'}"], env=env, cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None
        line = p.stdout.readline()  # blocks until the loop announces its next run
        assert line.startswith("next run: ") and "T06:00:00+00:00 (week " in line
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=10)
        assert p.returncode == 0 and time.monotonic() - t0 < 5
        assert "schedule stopped" in out and "SIGTERM: stopping" in err and "Traceback" not in err
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_schedule_refuses_to_start_without_a_channel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k in [k for k in os.environ if k.startswith("FM_")]:
        monkeypatch.delenv(k)
    r = CliRunner().invoke(app, ["schedule", "--db", f"sqlite:///{tmp_path / 's.db'}"])
    assert r.exit_code == 2 and "no delivery channel is configured" in r.stderr
    r = CliRunner().invoke(app, ["schedule", "--week", "2026-W46"])
    assert r.exit_code == 2 and "--week only goes with --once" in r.stderr
    r = CliRunner().invoke(app, ["schedule", "--no-deliver", "--db", "sqlite:///x.db"], env={"FM_SCHEDULE_TIME": "6am"})
    assert r.exit_code == 2 and "invalid setting — FM_SCHEDULE_TIME" in r.stderr


# -- the deploy units ------------------------------------------------------------------------------

KEYS = {  # the keys the units rely on, per section
    "Unit": {"Description", "Documentation", "After", "Wants"},
    "Service": {"Type", "User", "Group", "WorkingDirectory", "EnvironmentFile", "Environment", "ExecStart", "Restart",
                "RestartSec", "TimeoutStartSec", "NoNewPrivileges", "PrivateTmp", "ProtectSystem", "ProtectHome",
                "ReadWritePaths"},
    "Timer": {"OnCalendar", "Persistent", "Unit"},
    "Install": {"WantedBy"},
}


def _unit(path: Path) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None, strict=True, delimiters=("=",))
    cp.optionxform = str  # type: ignore[assignment,method-assign]
    cp.read_string(path.read_text())
    return cp


def test_units_parse_and_use_only_known_keys() -> None:
    files = sorted(UNITS.iterdir())
    assert [f.name for f in files] == ["feedback-miner-weekly.service", "feedback-miner-weekly.timer",
                                       "feedback-miner.service"]
    for f in files:
        cp = _unit(f)
        for section in cp.sections():
            assert section in KEYS, (f.name, section)
            assert set(cp[section]) <= KEYS[section], (f.name, set(cp[section]) - KEYS[section])
    timer = _unit(UNITS / "feedback-miner-weekly.timer")["Timer"]
    assert re.fullmatch(r"Mon \*-\*-\* 06:00:00 UTC", timer["OnCalendar"]) and timer["Persistent"] == "true"
    assert (UNITS / timer["Unit"]).exists()
    weekly = _unit(UNITS / "feedback-miner-weekly.service")["Service"]
    assert weekly["Type"] == "oneshot" and "[Install]" not in (UNITS / "feedback-miner-weekly.service").read_text()


@pytest.mark.parametrize("unit", ["feedback-miner.service", "feedback-miner-weekly.service"])
def test_unit_commands_exist_in_the_cli(unit: str) -> None:
    args = shlex.split(_unit(UNITS / unit)["Service"]["ExecStart"])
    assert args[0].endswith("/.venv/bin/feedback-miner")
    r = CliRunner().invoke(app, [*args[1:], "--help"])
    assert r.exit_code == 0, r.output
    cron = [ln for ln in (ROOT / "deploy" / "cron.example").read_text().splitlines() if ln and not ln.startswith("#")
            and "=" not in ln.split()[0]]
    assert len(cron) == 1 and cron[0].split()[:5] == ["0", "6", "*", "*", "1"] and "schedule --once" in cron[0]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed; "
                    "test_units_parse_and_use_only_known_keys checks the keys instead")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("feedback-miner")
    assert exe.exists()
    for f in UNITS.iterdir():  # the installed path does not exist here: point ExecStart at this checkout's
        (tmp_path / f.name).write_text(f.read_text().replace("/opt/feedback-miner/.venv/bin/feedback-miner", str(exe)))
    r = subprocess.run(["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.iterdir())],
                       capture_output=True, text=True, timeout=60)
    ours = [ln for ln in (r.stdout + r.stderr).splitlines() if "feedback-miner" in ln]
    assert r.returncode == 0 and ours == [], r.stdout + r.stderr


# -- one real cycle --------------------------------------------------------------------------------

@pytest.mark.slow
def test_schedule_once_runs_the_last_week_and_posts_it(tmp_path: Path, hook: Any) -> None:
    from feedback_miner.demo.generate import write_demo_csv

    week = last_complete_week(datetime.now(UTC))
    csv_path, db = tmp_path / "demo.csv", f"sqlite:///{tmp_path / 'once.db'}"
    write_demo_csv(csv_path, weeks=1, end_week=week)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FM_")}
    env |= {"FM_SLACK_WEBHOOK_URL": hook.url, "FM_PUBLIC_URL": "https://fm.example.com",
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    subprocess.run([*_cli(), "ingest", str(csv_path), "--db", db], env=env, check=True, capture_output=True)
    r = subprocess.run([*_cli(), "schedule", "--once", "--db", db], env=env, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{week}: ") and f"sent: posted the {week} summary to Slack" in r.stdout
    from feedback_miner.adapters.store import open_store
    from feedback_miner.stages.digest import Digest

    stored = open_store(db).get_digest(week)
    assert stored is not None
    d = Digest.from_dict(stored)
    [post] = hook.posts
    text = slack_text(post["json"])
    assert d.top_problems and all(p["title"].replace("&", "&amp;") in text for p in d.top_problems[:5])
    assert f"<https://fm.example.com/digest/{week}|Open the digest page>" in text
    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", text)
