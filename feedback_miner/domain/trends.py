"""Weekly trend of one problem: sparkline, Poisson tail and a status for the weekly digest.

Standard library and numpy only (no scipy): the Poisson tail is summed in log space with
:func:`math.lgamma`, accurate for ``mu`` up to ~1e4 and ``k`` up to ~1e5 and beyond.

How :func:`assess_trend` decides (every threshold is a keyword argument):

* **Baseline** — the ``baseline_weeks`` (default 6) ISO weeks before ``week``; a week missing from
  ``counts`` counts 0. ``baseline_mean`` / ``baseline_sd`` are the mean and sample standard
  deviation (``ddof=1``; 0 for a one-week baseline) of those raw counts.
* **Expected** — volume-adjusted when possible: ``(sum of baseline counts + 0.5) / (sum of
  baseline totals) * this week's total``, summing only baseline weeks whose total is known
  (present in ``totals`` and > 0). If this week's total or every baseline total is unknown, it
  falls back to unscaled ``(sum of baseline counts + 0.5) / baseline_weeks``. The +0.5 count prior
  keeps a zero baseline from expecting exactly 0.
* **p_value** — ``P(X >= observed)`` for ``X ~ Poisson(expected)`` (upper tail); ``p_lower`` is
  ``P(X <= observed)`` (lower tail).

Status, first match wins:

1. ``fixed_at_week`` given and ``week >= fixed_at_week`` (otherwise the fix is ignored and
   ``fix_holding`` is ``None``). The pre-fix level is the mean count of the ``baseline_weeks``
   weeks before the fix week; the post-fix weeks are those after the fix week up to ``week``.

   * ``resurfaced`` — some post-fix week has a count ``>= min_count`` (default 5) and either
     ``>=`` the pre-fix mean or ``P(X >= count) < alpha`` against the earlier post-fix weeks'
     mean (+0.5 prior). Once resurfaced it stays resurfaced until a new fix week is given.
   * ``fixed`` — every post-fix week (none yet in the fix week itself) is strictly below the
     pre-fix mean; ``fix_holding`` is True once that has held for >= 2 full weeks after the fix.
   * otherwise ``fix_holding`` is False and the ordinary statuses below apply.
2. ``new`` — observed >= 1 and no count in any week before ``week``.
3. ``growing`` — ``p_value < alpha`` (default 1e-4), observed ``>= min_count``, observed ``>= 2 ×`` the raw
   baseline mean (:data:`RAW_GROWTH`) and observed
   ``>= growth_ratio * expected`` (default 1.5).
4. ``fading`` — observed ``<= expected / growth_ratio`` and ``p_lower < alpha``; or observed is 0
   while the baseline mean is >= 3 (:data:`FADING_ZERO_MEAN`).
5. ``steady`` otherwise.

``emerging`` (the digest's "stand out this week" flag, the alert) is ``new`` or ``growing`` with observed
``>= alert_min_count`` (default :data:`ALERT_MIN_COUNT`), or ``resurfaced``. ``statement`` reads like "41 this week vs 9 ± 3 over the last 6
weeks (expected 10.2 at this week's volume), p < 0.001" (the lower-tail p when ``fading``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

import numpy as np

from feedback_miner.domain.weeks import parse_week, shift_week, weeks_between
from feedback_miner.errors import InputError

__all__ = [
    "ALERT_MIN_COUNT",
    "FADING_ZERO_MEAN",
    "PRIOR_COUNT",
    "STATUSES",
    "STATUS_ALPHA",
    "Status",
    "TrendAssessment",
    "assess_trend",
    "plain_statement",
    "poisson_cdf",
    "poisson_sf",
    "sparkline",
    "weekly_counts",
]

Status = Literal["new", "growing", "steady", "fading", "fixed", "resurfaced"]
STATUSES: tuple[Status, ...] = ("new", "growing", "steady", "fading", "fixed", "resurfaced")

PRIOR_COUNT = 0.5
"""Count added to a baseline so a problem never seen before does not expect exactly 0."""

RAW_GROWTH = 2.0
"""``growing`` also needs at least this multiple of the raw baseline mean, so a volume surge made of
other problems does not make a problem at its usual level look like it grows."""
STATUS_ALPHA = 0.01
"""A status other than ``steady`` needs its Poisson tail below this, so a status always agrees with its
statistic ("7 vs 1.5 ± 2.3, p = 0.002" is ``growing``); the alert (``emerging``) needs the stricter
``alpha``."""
FADING_ZERO_MEAN = 3.0
"""A week with 0 after a baseline mean at least this high is ``fading`` whatever the p-value."""

ALERT_MIN_COUNT = 8
"""A ``new`` or ``growing`` problem alerts only with at least this many reports this week. On the
58-week replay (``benchmarks/bench_replay.py``) most false alerts in steady weeks had 5-7 reports,
no planted spike alerted first with fewer than 10; the status itself still uses ``min_count``."""

_BARS = "▁▂▃▄▅▆▇█"
_REL_EPS = 1e-17


@dataclass(frozen=True)
class TrendAssessment:
    """The trend of one problem in one week; ``statement`` is the sentence shown in the digest."""

    status: Status
    observed: int
    expected: float
    baseline_mean: float
    baseline_sd: float
    p_value: float
    emerging: bool
    fix_holding: bool | None
    statement: str
    p_lower: float
    volume_adjusted: bool
    statistic: str = ""
    """The test behind the status: "41 this week vs 9 ± 3 over the last 6 weeks (expected 10.2 …), p < 0.001"."""


# --------------------------------------------------------------------------- validation


def _is_int(value: object) -> TypeGuard[int | np.integer[Any]]:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_count(name: str, value: object) -> int:
    if not _is_int(value) or value < 0:
        raise InputError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def _canonical(name: str, week: str) -> str:
    """``YYYY-Www`` (these sort in time order); ValueError naming ``name`` if not an ISO week."""
    if not isinstance(week, str):
        raise InputError(f"{name} must be an ISO week string like '2026-W47', got {week!r}")
    try:
        year, num = parse_week(week)
    except ValueError as exc:
        raise InputError(f"{name}: {exc}") from exc
    return f"{year:04d}-W{num:02d}"


def _week_map(name: str, mapping: Mapping[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, value in mapping.items():
        week = _canonical(f"{name} key", key)
        if week in out:
            raise InputError(f"{name} has week {week!r} twice (as {key!r})")
        out[week] = _check_count(f"{name}[{key!r}]", value)
    return out


def _check_settings(baseline_weeks: int, alpha: float, min_count: int, growth: float) -> None:
    if not _is_int(baseline_weeks) or baseline_weeks < 1:
        raise InputError(f"baseline_weeks must be an integer >= 1, got {baseline_weeks!r}")
    if not isinstance(alpha, (int, float)) or not 0.0 < alpha < 1.0:
        raise InputError(f"alpha must be a number in (0, 1), got {alpha!r}")
    if not _is_int(min_count) or min_count < 1:
        raise InputError(f"min_count must be an integer >= 1, got {min_count!r}")
    if not isinstance(growth, (int, float)) or not 1.0 <= growth < math.inf:
        raise InputError(f"growth_ratio must be a finite number >= 1, got {growth!r}")


# --------------------------------------------------------------------------- sparkline


def sparkline(counts: Sequence[int]) -> str:
    """One bar per count, scaled so the maximum is "█"; 0 is "▁", any other count >= "▂"."""
    values = [_check_count(f"counts[{i}]", c) for i, c in enumerate(counts)]
    top = max(values, default=0)
    if top == 0:
        return _BARS[0] * len(values)
    n = len(_BARS)  # bar i is (i + 1) / n of full height: pick the nearest, "▂" at least
    return "".join(
        _BARS[0] if v == 0 else _BARS[min(n - 1, max(1, (2 * n * v + top) // (2 * top) - 1))]
        for v in values
    )


# --------------------------------------------------------------------------- Poisson tails


def _log_pmf(k: int, mu: float) -> float:
    return k * math.log(mu) - mu - math.lgamma(k + 1)


def _upper_sum(k: int, mu: float) -> float:
    """P(X >= k) summed upward from k; requires k > mu > 0 so the terms shrink geometrically."""
    total, term, j = 1.0, 1.0, k
    while term >= total * _REL_EPS:
        j += 1
        term *= mu / j
        total += term
    return math.exp(_log_pmf(k, mu) + math.log(total))


def _lower_sum(k: int, mu: float) -> float:
    """P(X <= k) summed downward from k; requires 0 <= k < mu."""
    total, term, j = 1.0, 1.0, k
    while j > 0 and term >= total * _REL_EPS:
        term *= j / mu
        j -= 1
        total += term
    return math.exp(_log_pmf(k, mu) + math.log(total))


def _check_poisson_args(k: int, mu: float) -> None:
    if not _is_int(k):
        raise InputError(f"k must be an integer, got {k!r}")
    number = isinstance(mu, (int, float, np.integer, np.floating)) and not isinstance(mu, bool)
    if not number or not math.isfinite(mu) or mu < 0:
        raise InputError(f"mu must be a finite number >= 0, got {mu!r}")


def poisson_sf(k: int, mu: float) -> float:
    """P(X >= k) for X ~ Poisson(mu), summed in log space (no cancellation in the small tail)."""
    _check_poisson_args(k, mu)
    k, mu = int(k), float(mu)
    if k <= 0:
        return 1.0
    if mu == 0.0:
        return 0.0
    if k > mu:
        return min(1.0, _upper_sum(k, mu))
    return min(1.0, max(0.0, 1.0 - _lower_sum(k - 1, mu)))


def poisson_cdf(k: int, mu: float) -> float:
    """P(X <= k) for X ~ Poisson(mu): the lower tail, summed in log space."""
    _check_poisson_args(k, mu)
    k, mu = int(k), float(mu)
    if k < 0:
        return 0.0
    if mu == 0.0:
        return 1.0
    if k < mu:
        return min(1.0, _lower_sum(k, mu))
    return min(1.0, max(0.0, 1.0 - _upper_sum(k + 1, mu)))


# --------------------------------------------------------------------------- assessment


def _fmt(x: float) -> str:
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _fix_outcome(
    counts: dict[str, int], fix: str, week: str, baseline_weeks: int, alpha: float, min_count: int
) -> tuple[str | None, bool, float, int]:
    """(week it resurfaced or None, every post-fix week below the pre-fix mean, pre-fix mean, n)."""
    pre = [counts.get(shift_week(fix, -i), 0) for i in range(1, baseline_weeks + 1)]
    pre_mean = float(np.mean(pre))
    post = weeks_between(shift_week(fix, 1), week) if week != fix else []
    seen: list[int] = []
    for w in post:
        c = counts.get(w, 0)
        if c >= min_count:
            if c >= pre_mean:
                return w, False, pre_mean, len(post)
            if seen and poisson_sf(c, (sum(seen) + PRIOR_COUNT) / len(seen)) < alpha:
                return w, False, pre_mean, len(post)
        seen.append(c)
    return None, all(c < pre_mean for c in seen), pre_mean, len(post)


def assess_trend(
    counts: Mapping[str, int],
    totals: Mapping[str, int],
    week: str,
    *,
    baseline_weeks: int = 6,
    alpha: float = 1e-4,
    min_count: int = 5,
    growth_ratio: float = 1.5,
    alert_min_count: int = ALERT_MIN_COUNT,
    fixed_at_week: str | None = None,
    first_seen_week: str | None = None,
    status_alpha: float = STATUS_ALPHA,
) -> TrendAssessment:
    """Assess one problem's count in ``week`` against its own recent past (see module docstring).

    ``counts`` maps ISO weeks to the problem's counts (missing weeks are 0); ``totals`` maps ISO
    weeks to the feedback volume the counts are a share of (missing or 0: unknown).
    """
    _check_settings(baseline_weeks, alpha, min_count, growth_ratio)
    if not _is_int(alert_min_count) or alert_min_count < 1:
        raise InputError(f"alert_min_count must be an integer >= 1, got {alert_min_count!r}")
    if not isinstance(status_alpha, (int, float)) or not alpha <= status_alpha < 1.0:
        raise InputError(f"status_alpha must be a number in [alpha, 1), got {status_alpha!r}")
    week = _canonical("week", week)
    series = _week_map("counts", counts)
    volume = {w: t for w, t in _week_map("totals", totals).items() if t > 0}
    fix = None if fixed_at_week is None else _canonical("fixed_at_week", fixed_at_week)
    if fix is not None and fix > week:
        fix = None

    observed = series.get(week, 0)
    if first_seen_week is not None and fix is None:
        # A young problem's baseline is the weeks since it was first seen, not zeros before it existed.
        age = len(weeks_between(_canonical("first_seen_week", first_seen_week), week)) - 1
        if 1 <= age < baseline_weeks:
            baseline_weeks = age
    base_weeks = [shift_week(week, -i) for i in range(baseline_weeks, 0, -1)]
    base = np.array([series.get(w, 0) for w in base_weeks], dtype=np.float64)
    baseline_mean = float(base.mean())
    baseline_sd = float(base.std(ddof=1)) if baseline_weeks > 1 else 0.0

    known = [w for w in base_weeks if w in volume]
    volume_adjusted = week in volume and bool(known)
    if volume_adjusted:
        rate = (sum(series.get(w, 0) for w in known) + PRIOR_COUNT) / sum(volume[w] for w in known)
        expected = rate * volume[week]
    else:
        expected = (float(base.sum()) + PRIOR_COUNT) / baseline_weeks
    p_value = poisson_sf(observed, expected)
    p_lower = poisson_cdf(observed, expected)

    status: Status | None = None
    fix_holding: bool | None = None
    suffix = ""
    plain_suffix = ""
    if fix is not None:
        resurfaced_in, below, pre_mean, n_post = _fix_outcome(
            series, fix, week, baseline_weeks, alpha, min_count
        )
        fix_holding = False
        if resurfaced_in is not None:
            status = "resurfaced"
            plain_suffix = f"; back after the fix of {fix} (it was {_fmt(pre_mean)} a week before the fix)"
            suffix = (
                f"; resurfaced in {resurfaced_in} after the fix of {fix}"
                f" (pre-fix {_fmt(pre_mean)}/week)"
            )
        elif below:
            status = "fixed"
            fix_holding = n_post >= 2
            state = "holding" if fix_holding else "too early to tell"
            plain_suffix = (f"; fixed in {fix}: {n_post} week{'s' if n_post != 1 else ''} below the "
                            f"{_fmt(pre_mean)} a week before the fix ({state})")
            suffix = (
                f"; fixed in {fix}, {n_post} week(s) below the pre-fix"
                f" {_fmt(pre_mean)}/week ({state})"
            )
        else:
            plain_suffix = f"; fixed in {fix} but not yet below the {_fmt(pre_mean)} a week before the fix"
            suffix = f"; fixed in {fix} but not yet below the pre-fix {_fmt(pre_mean)}/week"
    if status is None:
        earlier = any(c > 0 and w < week for w, c in series.items())
        if observed >= 1 and not earlier:
            status = "new"
            suffix = "; first seen this week" + suffix
            plain_suffix = "; first seen this week" + plain_suffix
        elif (p_value < status_alpha and observed >= min_count and observed >= growth_ratio * expected
              and observed >= RAW_GROWTH * baseline_mean):
            status = "growing"
        elif (observed <= expected / growth_ratio and p_lower < status_alpha) or (
            observed == 0 and baseline_mean >= FADING_ZERO_MEAN
        ):
            status = "fading"
        else:
            status = "steady"

    emerging = status == "resurfaced" or (observed >= alert_min_count and (
        (status == "growing" and p_value < alpha) or status == "new"))
    at_volume = " at this week's volume" if volume_adjusted else ""
    p_text = f"lower-tail {_fmt_p(p_lower)}" if status == "fading" else _fmt_p(p_value)
    statistic = (
        f"{observed} this week vs {_fmt(baseline_mean)} ± {_fmt(baseline_sd)} over the last "
        f"{baseline_weeks} week{'s' if baseline_weeks != 1 else ''} "
        f"(expected {expected:.1f}{at_volume}), {p_text}{suffix}"
    )
    statement = plain_statement(status, observed, base.tolist(), expected, baseline_mean, volume_adjusted,
                                plain_suffix)
    return TrendAssessment(
        status=status,
        observed=observed,
        expected=expected,
        baseline_mean=baseline_mean,
        baseline_sd=baseline_sd,
        p_value=p_value,
        emerging=emerging,
        fix_holding=fix_holding,
        statement=statement,
        p_lower=p_lower,
        volume_adjusted=volume_adjusted,
        statistic=statistic,
    )


def _reports(n: int) -> str:
    return f"{n} report{'s' if n != 1 else ''}"


def plain_statement(status: str, observed: int, baseline: Sequence[float], expected: float, mean: float,
                    volume_adjusted: bool, suffix: str = "") -> str:
    """The trend in words a dev lead reads at a glance ("17 reports this week; none in the 6 weeks before")."""
    weeks = len(baseline)
    before = f"the {weeks} weeks before" if weeks != 1 else "the week before"
    head = f"{_reports(observed)} this week"
    if weeks == 0:
        return head + suffix
    if not any(baseline):
        text = f"{head}; none in {before}"
    elif status == "growing":
        times = observed / expected if expected > 0 else float("inf")
        usual = " at this week's volume" if volume_adjusted else ""
        text = f"{head}, up from about {_fmt(mean)} a week in {before} ({times:.1f}× the usual{usual})"
    elif status == "fading":
        text = f"{head}, down from about {_fmt(mean)} a week in {before}"
    elif status == "steady":
        text = f"{head}; about {_fmt(mean)} a week in {before}, within the usual ups and downs"
    else:
        text = f"{head}; about {_fmt(mean)} a week in {before}"
    return text + suffix


def weekly_counts(weeks_of_members: Iterable[str], weeks: Sequence[str]) -> dict[str, int]:
    """How many members fall in each of ``weeks`` (in that order, zero-filled).

    Members in weeks outside ``weeks`` are ignored; every week string must be a valid ISO week.
    """
    order = [_canonical(f"weeks[{i}]", w) for i, w in enumerate(weeks)]
    for w, n in Counter(order).items():
        if n > 1:
            raise InputError(f"weeks lists {w!r} {n} times; each week must appear once")
    tally: Counter[str] = Counter()
    for w, n in Counter(weeks_of_members).items():
        tally[_canonical("weeks_of_members item", w)] += n
    return {w: tally.get(w, 0) for w in order}
