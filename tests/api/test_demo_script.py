"""scripts/demo.sh, as a newcomer runs it from a fresh clone, ends with the service answering and a
login URL and key printed; /docs then loads nothing from another host, the digest the README names
is written, and the clone stays clean (marked slow: real model, real server).

The repository is cloned (``git clone``: what is committed, nothing else) into a temp directory and
its script runs there with the current virtualenv (DEMO_VENV: the clone's code runs over the
installed dependencies, nothing is reinstalled), on a free port; the test stops it (and so its
server) afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.live import free_port
from tests.api.test_docs import external_refs

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _read_until_key(proc: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    """Lines the script printed, up to and including the key; fails with the output if it ends first."""
    seen: list[str] = []
    end = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"demo.sh ended (rc={proc.wait()}) without printing a key:\n" + "".join(seen[-30:]))
        seen.append(line)
        if re.fullmatch(r"fm_[0-9a-f]{8}_\S+\n", line) and any("/login" in s for s in seen[-3:]):
            return "".join(seen), line.strip()
    raise AssertionError("demo.sh printed no key in time:\n" + "".join(seen[-30:]))


def _clone(tmp_path: Path) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of the repository")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], check=True, timeout=120)
    return clone.resolve()


def test_demo_script_from_a_fresh_clone_ends_with_a_running_service_and_a_key(tmp_path: Path) -> None:
    clone = _clone(tmp_path)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FM_DATABASE_URL")}
    env.update(DEMO_VENV=str(Path(sys.executable).parent.parent), DEMO_WEEKS="2", PORT=str(port), HOST="127.0.0.1")
    proc = subprocess.Popen(["bash", "scripts/demo.sh"], cwd=clone, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        out, key = _read_until_key(proc, timeout=900)
        assert f"demo: the code in {clone}," in out  # the clone's code, not the checkout the venv was built from
        assert f"{base}/login" in out
        for ext in ("md", "json", "html"):  # as the README says
            assert (clone / "demo_out" / f"digest-2026-W46.{ext}").stat().st_size > 0
        assert httpx.get(f"{base}/healthz", timeout=10).json()["status"] == "ok"
        assert httpx.get(f"{base}/readyz", timeout=10).status_code == 200
        docs = httpx.get(f"{base}/docs", timeout=10)
        assert docs.status_code == 200 and external_refs(docs.text) == []
        assert httpx.get(f"{base}/v1/problems", headers={"X-API-Key": key}, timeout=30).status_code == 200
        assert proc.poll() is None  # still serving
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the script's trap stops its server too
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/healthz", timeout=2)
    status = subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True, check=True)
    assert status.stdout == "", f"the demo left the clone dirty:\n{status.stdout}"
