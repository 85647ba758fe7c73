"""scripts/test.sh stops at once, with the one command to run, when Chromium is missing and cannot
be installed (instead of running the suite with the browser tests skipped)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_test_script_names_the_install_command_when_chromium_is_missing(tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    for tool in ("apt-get", "sudo"):  # installing is refused, as on a machine without root
        (fake / tool).write_text("#!/bin/sh\necho \"$0: not allowed here\" >&2\nexit 100\n")
        (fake / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}", "FM_CHROMIUM": str(tmp_path / "no-chromium")}
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "test.sh")], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError("scripts/test.sh went on without Chromium:\n" + err[-2000:]) from None
    assert proc.returncode == 1, (proc.returncode, err)
    assert "sudo scripts/ci-system-deps.sh" in err
    assert "passed" not in out  # the suite did not run
