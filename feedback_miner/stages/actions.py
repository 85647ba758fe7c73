"""Recommended actions that name what the data shows, not only the figures again.

:func:`recommended_action` looks at one problem against the whole run: a device, app version,
browser, channel or segment that the problem's reports concentrate on (its share among the
problem's reports against its share among all texts of the run), an error code most reports quote,
the owning team by category, and whether the problem needs action this week (new, growing,
resurfaced). Pure: no I/O, deterministic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from feedback_miner.domain.types import FeedbackItem, Problem

__all__ = ["OWNING_TEAM", "Action", "Concentration", "concentrations", "recommended_action", "run_breakdowns"]

OWNING_TEAM: dict[str, str] = {
    "technical": "App engineering", "user_interface": "Design / front end", "payment": "Payments",
    "account": "Identity & accounts", "shipping": "Fulfilment & logistics", "feature_request": "Product",
    "other": "Support",
}
DIMENSIONS: tuple[str, ...] = ("app_version", "device", "browser", "channel", "segment")
_LABEL = {"app_version": "app version", "device": "device", "browser": "browser", "channel": "channel",
          "segment": "segment"}


@dataclass(frozen=True)
class Concentration:
    dimension: str
    value: str
    share: float  # among the problem's reports that give this dimension
    baseline_share: float  # among all texts of the run that give it
    count: int

    @property
    def text(self) -> str:
        return (f"{_LABEL.get(self.dimension, self.dimension)} {self.value} ({self.share:.0%} of reports "
                f"vs {self.baseline_share:.0%} overall)")


@dataclass(frozen=True)
class Action:
    team: str
    text: str
    urgent: bool
    evidence: list[Concentration] = field(default_factory=list)
    error_code: str | None = None


def run_breakdowns(items: Sequence[FeedbackItem]) -> dict[str, Counter[str]]:
    """Per dimension, how many texts of the run give each value (the baseline of a concentration)."""
    return {d: Counter(v for i in items if (v := getattr(i, d))) for d in DIMENSIONS}


def concentrations(p: Problem, baseline: Mapping[str, Counter[str]], *, min_share: float = 0.5,
                   min_lift: float = 1.5, min_count: int = 3) -> list[Concentration]:
    """Values the problem's reports concentrate on: share >= ``min_share`` and >= ``min_lift`` × the
    value's share of the run; strongest lift first."""
    out: list[tuple[float, Concentration]] = []
    for dim in DIMENSIONS:
        counts = p.breakdowns.get(dim) or {}
        base = baseline.get(dim) or Counter()
        given, base_n = sum(counts.values()), sum(base.values())
        if not counts or given < min_count or not base_n:
            continue
        value, n = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        share, base_share = n / given, base.get(value, 0) / base_n
        if n >= min_count and share >= min_share and base_share > 0 and share >= min_lift * base_share:
            out.append((share / base_share, Concentration(dim, value, round(share, 3), round(base_share, 3), n)))
    out.sort(key=lambda x: (-x[0], x[1].dimension))
    return [c for _, c in out]


def _main_code(p: Problem) -> tuple[str, int] | None:
    if not p.error_codes:
        return None
    code, _, rest = p.error_codes[0].rpartition(" (")
    n = int(rest.rstrip(")"))
    return (code, n) if n * 3 >= p.size else None


def recommended_action(p: Problem, baseline: Mapping[str, Counter[str]],
                       teams: Mapping[str, str] = OWNING_TEAM) -> Action:
    """One action for one problem: who owns it, where to look, and how soon."""
    team = teams.get(p.category, teams.get("other", "Support"))
    urgent = p.status in ("new", "growing", "resurfaced")
    where = concentrations(p, baseline)
    code = _main_code(p)
    parts: list[str] = []
    if code:
        parts.append(f"reproduce {code[0]} ({code[1]} of {p.size} reports quote it)")
    if where:
        parts.append("start with " + " and ".join(c.text for c in where[:2]))
    if p.member_categories:
        split = ", ".join(f"{n} {c}" for c, n in p.member_categories.items())
        parts.append(f"texts were classified {split}: check the category")
    if not parts:
        parts.append("no device, version, browser, channel or error code stands out: read the quotes")
    when = f"this week: it is {p.status}" if urgent else "plan it by priority"
    return Action(team=team, text=f"{team}: {p.title} — {'; '.join(parts)}; {when}.", urgent=urgent,
                  evidence=where, error_code=code[0] if code else None)
