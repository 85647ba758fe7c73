"""`feedback-miner digest` for a period with no digest suggests a command that runs; a period that
cannot exist (``2026-47``: no 47th month) gets an error naming the accepted forms, no suggestion."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from feedback_miner.cli import app


def _digest(tmp_path: Path, period: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, ["digest", "--week", period, "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    return r.exit_code, " ".join(r.output.split())


@pytest.mark.parametrize("period", ["2026-47", "2026-W60", "2026-Q7", "2026-13"])
def test_an_impossible_period_is_refused_without_a_suggestion(tmp_path: Path, period: str) -> None:
    code, out = _digest(tmp_path, period)
    assert code == 2
    assert f"--week '{period}' is not an ISO week (2026-W47), a month (2026-11) or a quarter (2026-Q4)" in out
    assert "build it first" not in out


@pytest.mark.parametrize("period", ["2026-W47", "2026-11", "2026-Q4"])
def test_the_suggested_command_is_one_the_cli_accepts(tmp_path: Path, period: str) -> None:
    code, out = _digest(tmp_path, period)
    assert code == 2
    m = re.search(r"build it first with `feedback-miner ([^`]+)`", out)
    assert m, out
    args = m.group(1).split()
    # the suggestion parses and validates its period: it fails only because the store is empty
    r = CliRunner().invoke(app, [*args, "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert "not an ISO week" not in r.output and "is not a" not in r.output, r.output
    assert "No such option" not in r.output and "Usage:" not in r.output, r.output
