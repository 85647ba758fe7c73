"""What the digest and problem pages show beyond the stored records: the headline metrics (the
support plan's figures against their targets, first on the digest page), the fix-watch entry of a
fixed problem and its follow-up count. Pure functions over the digest's and the store's dicts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["CONCENTRATION", "HEADLINE_KEYS", "breakdown_rows", "fix_status", "headline_metrics", "tile_label", "tile_state"]

# the plan's headline figures, in the order the digest page shows them
HEADLINE_KEYS: tuple[str, ...] = ("csat", "resolution_48h", "first_response_sla", "nps", "repeat_issue_rate")
CONCENTRATION = 1.5  # a value's share among a problem's reports this many times its share of all feedback
_SHORT = {"first_response_sla": "First response within SLA", "nps": "NPS"}  # the full label is the tile's title


def tile_label(m: Mapping[str, Any]) -> str:
    """A headline tile's short label (the metric's own label when it is short already)."""
    return _SHORT.get(str(m.get("key")), str(m.get("label") or m.get("key")))


def headline_metrics(metrics: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The headline metrics of a digest, in :data:`HEADLINE_KEYS` order (those it holds)."""
    by_key = {str(m.get("key")): m for m in metrics}
    return [by_key[k] for k in HEADLINE_KEYS if k in by_key]


def tile_state(m: Mapping[str, Any]) -> str:
    """``ok`` / ``bad`` against the target, ``none`` without a target, ``unknown`` without enough answers."""
    if m.get("value") is None or not m.get("enough"):
        return "unknown"
    if m.get("target") is None or m.get("meets_target") is None:
        return "none"
    return "ok" if m["meets_target"] else "bad"


def fix_status(digests: Sequence[Mapping[str, Any]], problem_id: str) -> Mapping[str, Any] | None:
    """The newest fix-watch entry for ``problem_id`` among ``digests`` (newest first), with its week."""
    for d in digests:
        for f in d.get("fix_watch") or ():
            if f.get("id") == problem_id:
                return {**f, "digest_week": d.get("period")}
    return None


def breakdown_rows(counts: Mapping[str, int], baseline: Mapping[str, float]) -> list[dict[str, Any]]:
    """One row per value of a breakdown field: reports, share of this problem's reports, share of all
    feedback (the baseline, None when unknown), their ratio, and whether the problem concentrates
    there (at least 2 reports and :data:`CONCENTRATION` times the baseline share)."""
    total = sum(counts.values())
    rows = []
    for key, n in counts.items():
        share = n / total if total else 0.0
        base = baseline.get(key)
        ratio = share / base if base else None
        rows.append({"key": key, "n": n, "share": share, "base": base, "ratio": ratio,
                     "concentrated": n >= 2 and ratio is not None and ratio >= CONCENTRATION})
    return rows
