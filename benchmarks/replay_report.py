"""Replay report helpers: which code was measured, and the run summary printed to the log."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from _common import log


def code_state() -> dict[str, Any]:
    """Which product code this measured: package location, git HEAD, uncommitted product files, a fingerprint."""
    import hashlib
    import subprocess

    import feedback_miner

    pkg = Path(feedback_miner.__file__).resolve().parent

    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", *a], check=False, cwd=pkg.parent, capture_output=True, text=True, timeout=30).stdout.rstrip()
        except (OSError, subprocess.SubprocessError):
            return ""

    h = hashlib.sha256()
    for f in sorted([*pkg.rglob("*.py"), *(pkg.parent / "models" / "classifier").rglob("*")]):
        if f.is_file():
            h.update(str(f.relative_to(pkg.parent)).encode())
            h.update(f.read_bytes())
    dirty = [line for line in git("status", "--porcelain", "--", "feedback_miner", "models/classifier").splitlines() if line]
    return {"package": str(pkg), "git_head": git("rev-parse", "--short", "HEAD").strip(), "uncommitted_product_files": dirty,
            "fingerprint": h.hexdigest()[:16]}


def _sha256(path: Path) -> str | None:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else None


def print_summary(r: dict[str, Any]) -> None:
    s = r["summary"]
    log(f"[{r['config']['name']}] recall first week {s['recall_first_week']:.2f}, by second {s['recall_by_second_week']:.2f}, "
        f"3x spikes {s['recall_first_week_3x']}, false alerts {s['false_alerts']} in {s['evaluated_weeks']} weeks "
        f"({s['false_alerts_per_10_weeks']:.2f}/10 weeks, {s['false_alerts_per_10_steady_volume_weeks']:.2f}/10 steady-volume weeks; "
        f"{s['false_alerts_by_status']}), spike id stability "
        f"{s['spike_id_stability']}, bg median problem size {s['background_median_problem_size']}")
    for sp in r["spikes"]:
        log(f"   {sp['name']:<19} k={sp['per_week']:2d} ({sp['ratio_to_bg_median']}x) first={sp['detected_first_week']!s:5} "
            f"second={sp['detected_by_second_week']!s:5} ids={[w['majority_id'] for w in sp['per_week_rows']]}")
    for w in r["what_if"]:
        log(f"   what-if {w['rule']:<48} recall1 {w['recall_first_week']:.2f} recall2 {w['recall_by_second_week']:.2f} "
            f"false/10wk {w['false_alerts_per_10_weeks']:.2f} (steady-volume weeks {w['false_alerts_per_10_steady_volume_weeks']:.2f})")
    log(f"   new-id alerts vs nearest known problem: {s['new_id_alerts_nearest_known']}")
    log(f"   growing false alerts, problem age: {s['growing_false_alerts_problem_age']}")
    log(f"   background id stability (evident continuations): {s['background_id_stability']}")

