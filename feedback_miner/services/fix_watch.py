"""Fix watch: for every problem marked fixed, its weekly counts since before the fix, whether the
fix holds, and the share of repeat reporters before and after it."""

from __future__ import annotations

from typing import Any

from feedback_miner.domain.metrics import repeat_share
from feedback_miner.domain.ports import ResultsReader
from feedback_miner.domain.trends import assess_trend
from feedback_miner.domain.weeks import shift_week, weeks_between

__all__ = ["fix_watch"]


def fix_watch(results: ResultsReader, week: str, *, baseline_weeks: int = 6) -> list[dict[str, Any]]:
    """Watch entries for ``week``; pass the run's unit of work to see this week's counts."""
    out = []
    for p in results.problem_records():
        if p.fixed_week is None or p.merged_into is not None or p.fixed_week > week:
            continue
        weeks = weeks_between(shift_week(p.fixed_week, -baseline_weeks), week)
        counts = {w: 0 for w in weeks}
        counts.update({w: n for _, w, n in results.problem_counts(weeks, p.id)})
        tr = assess_trend(counts, {}, week, baseline_weeks=baseline_weeks, fixed_at_week=p.fixed_week)
        reporters = results.reporters(p.id, weeks)
        before = [cid for w, cid in reporters if w <= p.fixed_week]
        after = [cid for w, cid in reporters if w > p.fixed_week]
        verdict = "resurfaced" if tr.status == "resurfaced" else "fix holding" if tr.fix_holding else "watching"
        out.append({"id": p.id, "title": p.title, "category": p.category, "fixed_week": p.fixed_week,
                    "fixed_by": p.fixed_by, "fix_link": p.fix_link, "weekly_counts": counts,
                    "status": tr.status, "verdict": verdict, "trend": tr.statement,
                    "repeat_before_fix": repeat_share(before), "repeat_after_fix": repeat_share(after)})
    out.sort(key=lambda r: (r["verdict"] != "resurfaced", r["id"]))
    return out
