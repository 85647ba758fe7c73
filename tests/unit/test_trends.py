"""Unit tests of feedback_miner.domain.trends: sparkline, Poisson tails and trend statuses."""

from __future__ import annotations

import math

import pytest

from feedback_miner.domain.trends import (
    assess_trend,
    poisson_cdf,
    poisson_sf,
    sparkline,
    weekly_counts,
)
from feedback_miner.domain.weeks import shift_week

START = "2026-W01"
BASE = [10, 11, 9, 10, 12, 10]  # weeks W01..W06


def _weeks(n: int, start: str = START) -> list[str]:
    return [shift_week(start, i) for i in range(n)]


def _series(values: list[int], start: str = START) -> dict[str, int]:
    return dict(zip(_weeks(len(values), start), values))


def _totals(values: list[int], start: str = START) -> dict[str, int]:
    return _series(values, start)


# --------------------------------------------------------------------------- sparkline


def test_sparkline_scales_to_the_maximum() -> None:
    assert sparkline([]) == ""
    assert sparkline([0, 0, 0]) == "▁▁▁"
    assert sparkline([0, 1, 4, 8]) == "▁▂▄█"
    assert sparkline([5]) == "█"
    assert sparkline([1, 100])[0] == "▂"  # a non-zero count never looks like zero


def test_sparkline_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match=r"counts\[1\] must be an integer >= 0, got -2"):
        sparkline([1, -2])


# --------------------------------------------------------------------------- Poisson


@pytest.mark.parametrize(
    ("k", "mu", "exact"),
    [
        (1, 1.0, 1 - math.exp(-1)),
        (0, 3.0, 1.0),
        (-2, 3.0, 1.0),
        (3, 2.0, 1 - math.exp(-2) * (1 + 2 + 2)),
        (2, 0.5, 1 - math.exp(-0.5) * 1.5),
        (5, 0.0, 0.0),
        (0, 0.0, 1.0),
        (20, 1.0, math.exp(-1) * sum(1 / math.factorial(j) for j in range(20, 60))),
    ],
)
def test_poisson_sf_exact_values(k: int, mu: float, exact: float) -> None:
    assert poisson_sf(k, mu) == pytest.approx(exact, rel=1e-12, abs=1e-300)


# (k, mu, P(X >= k), P(X <= k)) computed with mpmath at 50 digits (regularised incomplete gamma).
LARGE = [
    (10_000, 1e4, 0.5013298083399552, 0.50265958121900763),
    (10_400, 1e4, 3.5862638190979799e-5, 0.99996559434308383),
    (11_000, 1e4, 3.9112258050930145e-23, 1.0),
    (9_000, 1e4, 1.0, 1.3896350906594243e-24),
    (100_000, 95_000.0, 1.7109743250860415e-58, 1.0),
    (60, 10.4, 4.6350087382763983e-26, 1.0),
    (40, 10.4, 2.3929681735411973e-12, 0.99999999999939774),
]


@pytest.mark.parametrize(("k", "mu", "sf", "cdf"), LARGE)
def test_poisson_tails_for_large_arguments(k: int, mu: float, sf: float, cdf: float) -> None:
    assert poisson_sf(k, mu) == pytest.approx(sf, rel=1e-9)
    assert poisson_cdf(k, mu) == pytest.approx(cdf, rel=1e-9)


def test_poisson_sf_underflows_cleanly() -> None:
    assert poisson_sf(100_000, 1e4) == 0.0  # no overflow, no NaN


def test_poisson_cdf_exact_values_and_validation() -> None:
    assert poisson_cdf(0, 10.0) == pytest.approx(math.exp(-10), rel=1e-12)
    assert poisson_cdf(-1, 1.0) == 0.0
    assert poisson_cdf(3, 0.0) == 1.0
    with pytest.raises(ValueError, match=r"mu must be a finite number >= 0, got -1.0"):
        poisson_sf(1, -1.0)
    with pytest.raises(ValueError, match=r"k must be an integer, got 1.5"):
        poisson_sf(1.5, 1.0)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- statuses


def test_flat_series_is_steady() -> None:
    counts = _series(BASE + [11])
    a = assess_trend(counts, _totals([1000] * 7), "2026-W07")
    assert a.status == "steady"
    assert a.p_value > 0.1
    assert not a.emerging
    assert a.fix_holding is None
    assert a.baseline_mean == pytest.approx(62 / 6)
    assert a.expected == pytest.approx(62.5 / 6000 * 1000)
    assert a.volume_adjusted


def test_spike_at_same_volume_is_growing() -> None:
    a = assess_trend(_series(BASE + [40]), _totals([1000] * 7), "2026-W07")
    assert a.status == "growing"
    assert a.p_value < 0.001
    assert a.emerging
    assert "40 this week" in a.statistic
    assert "over the last 6 weeks" in a.statistic
    assert "at this week's volume" in a.statistic
    assert "p < 0.001" in a.statistic


def test_spike_with_quadrupled_volume_is_not_growing() -> None:
    a = assess_trend(_series(BASE + [40]), _totals([1000] * 6 + [4000]), "2026-W07")
    assert a.status == "steady"
    assert a.expected == pytest.approx(62.5 / 6000 * 4000)
    assert a.p_value > 0.05
    assert not a.emerging


def test_unknown_totals_fall_back_to_unscaled() -> None:
    a = assess_trend(_series(BASE + [40]), {}, "2026-W07")
    assert not a.volume_adjusted
    assert a.expected == pytest.approx(62.5 / 6)
    assert a.status == "growing"
    assert "volume" not in a.statistic


def test_first_appearance_is_new_and_emerging() -> None:
    a = assess_trend({"2026-W07": 12}, _totals([1000] * 7), "2026-W07")
    assert a.status == "new"
    assert a.emerging
    assert a.expected > 0  # the prior keeps a zero baseline from expecting 0
    small = assess_trend({"2026-W07": 2}, _totals([1000] * 7), "2026-W07")
    assert small.status == "new"
    assert not small.emerging


def test_drop_to_zero_is_fading() -> None:
    a = assess_trend(_series(BASE + [0]), _totals([1000] * 7), "2026-W07")
    assert a.status == "fading"
    assert a.p_lower < 0.001
    assert "lower-tail p < 0.001" in a.statistic
    assert not a.emerging


def test_fix_holding_then_resurfacing() -> None:
    # W01..W06 baseline, fix in W07 (still 10), then 2 and 1: the fix holds.
    counts = _series(BASE + [10, 2, 1])
    totals = _totals([1000] * 10)
    early = assess_trend(counts, totals, "2026-W08", fixed_at_week="2026-W07")
    assert early.status == "fixed"
    assert early.fix_holding is False  # one full week after the fix only
    held = assess_trend(counts, totals, "2026-W09", fixed_at_week="2026-W07")
    assert held.status == "fixed"
    assert held.fix_holding is True
    assert not held.emerging
    back = assess_trend({**counts, "2026-W10": 12}, totals, "2026-W10", fixed_at_week="2026-W07")
    assert back.status == "resurfaced"
    assert back.emerging
    assert back.fix_holding is False
    assert "resurfaced in 2026-W10" in back.statistic


def test_resurfacing_against_a_low_post_fix_level() -> None:
    # pre-fix level 30/week; post-fix 0, 0, 0 then 8: below the pre-fix mean but far above 0.
    counts = _series([30] * 6 + [30, 0, 0, 0, 8])
    a = assess_trend(counts, {}, "2026-W11", fixed_at_week="2026-W07")
    assert a.status == "resurfaced"


def test_fix_after_the_assessed_week_is_ignored() -> None:
    a = assess_trend(_series(BASE + [11]), {}, "2026-W07", fixed_at_week="2026-W09")
    assert a.status == "steady"
    assert a.fix_holding is None


def test_bad_week_strings_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"week: week '2026-47' is not an ISO week"):
        assess_trend({}, {}, "2026-47")
    with pytest.raises(ValueError, match=r"counts key: week 'nope'"):
        assess_trend({"nope": 1}, {}, "2026-W07")
    with pytest.raises(ValueError, match=r"fixed_at_week: week '2026-W60' does not exist"):
        assess_trend({}, {}, "2026-W07", fixed_at_week="2026-W60")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"baseline_weeks": 0}, r"baseline_weeks must be an integer >= 1, got 0"),
        ({"alpha": 1.5}, r"alpha must be a number in \(0, 1\), got 1.5"),
        ({"min_count": 0}, r"min_count must be an integer >= 1, got 0"),
        ({"growth_ratio": 0.5}, r"growth_ratio must be a finite number >= 1, got 0.5"),
    ],
)
def test_settings_are_validated(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        assess_trend({}, {}, "2026-W07", **kwargs)  # type: ignore[arg-type]


def test_negative_count_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"counts\['2026-W01'\] must be an integer >= 0"):
        assess_trend({"2026-W01": -1}, {}, "2026-W07")


# --------------------------------------------------------------------------- weekly_counts


def test_weekly_counts_zero_fills_in_order() -> None:
    weeks = ["2026-W03", "2026-W01", "2026-W02"]
    members = ["2026-W01", "2026-W03", "2026-W01", "2025-W52"]
    out = weekly_counts(members, weeks)
    assert out == {"2026-W03": 1, "2026-W01": 2, "2026-W02": 0}
    assert list(out) == weeks
    with pytest.raises(ValueError, match=r"weeks lists '2026-W01' 2 times"):
        weekly_counts([], ["2026-W01", "2026-W01"])
    with pytest.raises(ValueError, match=r"weeks_of_members item: week 'bad'"):
        weekly_counts(["bad"], weeks)


def test_status_agrees_with_its_statistic() -> None:
    # The case: 7 vs 1.5 ± 2.3, p = 0.002 was labelled steady.
    counts = {"2026-W01": 0, "2026-W02": 6, "2026-W03": 0, "2026-W04": 0, "2026-W05": 3, "2026-W06": 0, "2026-W07": 7}
    a = assess_trend(counts, {}, "2026-W07")
    assert a.p_value < 0.01
    assert a.status == "growing"
    assert not a.emerging  # the alert keeps the stricter alpha
    assert "up from about 1.5 a week in the 6 weeks before" in a.statement


def test_steady_only_when_not_significant() -> None:
    for observed in range(0, 40):
        counts = {f"2026-W0{i}": c for i, c in enumerate([5, 7, 6, 4, 6, 5], start=1)} | {"2026-W07": observed}
        a = assess_trend(counts, {}, "2026-W07")
        if a.status == "steady":
            assert a.p_value >= 0.01 or observed < 5 or observed < 2 * a.baseline_mean
            assert a.p_lower >= 0.01 or observed > a.expected / 1.5


def test_plain_statement_of_a_new_problem() -> None:
    a = assess_trend({"2026-W07": 17}, {}, "2026-W07")
    assert a.statement == "17 reports this week; none in the 6 weeks before; first seen this week"
    assert "p <" not in a.statement and "±" not in a.statement
    assert "17 this week vs 0 ± 0" in a.statistic


def test_a_few_reports_have_a_status_but_raise_no_alert() -> None:
    # 6 reports the first week: new, but below the alert floor; 7 after a baseline of ~0: growing, no alert.
    first = assess_trend({"2026-W07": 6}, _totals([1000] * 7), "2026-W07")
    assert first.status == "new" and not first.emerging
    grown = assess_trend({"2026-W01": 1, "2026-W07": 7}, _totals([1000] * 7), "2026-W07")
    assert grown.status == "growing" and not grown.emerging
    at_floor = assess_trend({"2026-W07": 6}, _totals([1000] * 7), "2026-W07", alert_min_count=6)
    assert at_floor.emerging
    with pytest.raises(ValueError, match="alert_min_count must be an integer >= 1, got 0"):
        assess_trend({"2026-W07": 6}, {}, "2026-W07", alert_min_count=0)
