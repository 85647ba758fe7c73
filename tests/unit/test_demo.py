"""Unit tests for the deterministic demo feedback generator (feedback_miner.demo.generate)."""

from __future__ import annotations

import csv
import re
import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from feedback_miner.demo.generate import (
    DEMO_COLUMNS,
    EMERGING_PROBLEM,
    FADING_PROBLEM,
    PROBLEM_CATEGORIES,
    demo_weeks,
    generate_demo,
    generate_labeled_demo,
    main,
    write_demo_csv,
)

EXPECTED_WEEKS = [f"2026-W{w}" for w in range(39, 47)]
CATEGORY_IDS = {"technical", "user_interface", "payment", "account", "shipping",
                "feature_request", "other"}


def _ts(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value[:-1] + "+00:00")


def _week(value: str) -> str:
    year, week, _ = _ts(value).isocalendar()
    return f"{year}-W{week:02d}"


def _luhn_ok(number: str) -> bool:
    digits = [int(d) for d in number][::-1]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2)
                for i, d in enumerate(digits))
    return total % 10 == 0


@pytest.fixture(scope="module")
def labeled() -> list[tuple[dict[str, str], str]]:
    return generate_labeled_demo()


@pytest.fixture(scope="module")
def rows(labeled: list[tuple[dict[str, str], str]]) -> list[dict[str, str]]:
    return [row for row, _ in labeled]


def test_same_seed_same_rows_different_seed_different() -> None:
    first = generate_demo(weeks=3, seed=11, per_week=80)
    assert first == generate_demo(weeks=3, seed=11, per_week=80)
    other = generate_demo(weeks=3, seed=12, per_week=80)
    assert [r["text"] for r in first] != [r["text"] for r in other]


def test_labeled_rows_match_plain_rows(labeled: list[tuple[dict[str, str], str]]) -> None:
    assert [row for row, _ in labeled] == generate_demo()
    assert {pid for _, pid in labeled} <= set(PROBLEM_CATEGORIES)
    assert set(PROBLEM_CATEGORIES.values()) == CATEGORY_IDS


def test_covered_weeks_equal_requested(rows: list[dict[str, str]]) -> None:
    assert demo_weeks(8, "2026-W46") == EXPECTED_WEEKS
    assert sorted({_week(r["created_at"]) for r in rows}) == EXPECTED_WEEKS


def test_weeks_across_year_boundary() -> None:
    wanted = ["2025-W51", "2025-W52", "2026-W01", "2026-W02"]
    assert demo_weeks(4, "2026-W02") == wanted
    got = generate_demo(weeks=4, end_week="2026-W02", per_week=40, seed=1)
    assert sorted({_week(r["created_at"]) for r in got}) == wanted


@pytest.mark.parametrize("kwargs", [{"end_week": "2026-46"}, {"end_week": "2026-W54"},
                                    {"weeks": 0}, {"per_week": 0}])
def test_invalid_arguments_raise(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        generate_demo(**kwargs)  # type: ignore[arg-type]


def test_volume_per_week_and_other_share(labeled: list[tuple[dict[str, str], str]]) -> None:
    per_week = Counter(_week(r["created_at"]) for r, _ in labeled)
    assert all(195 <= n <= 245 for n in per_week.values()), per_week
    other = sum(PROBLEM_CATEGORIES[pid] == "other" for _, pid in labeled) / len(labeled)
    assert 0.24 <= other <= 0.31
    sizes = Counter(pid for _, pid in labeled if PROBLEM_CATEGORIES[pid] != "other")
    assert max(sizes.values()) >= 3 * min(sizes.values())  # problem sizes differ


def test_every_column_present_and_string(rows: list[dict[str, str]]) -> None:
    assert len(DEMO_COLUMNS) == 22 and "category" not in DEMO_COLUMNS
    for row in rows:
        assert tuple(row) == DEMO_COLUMNS
        assert all(isinstance(v, str) for v in row.values())
        assert row["text"].strip()


def test_enumerations_and_ranges(rows: list[dict[str, str]]) -> None:
    for row in rows:
        assert row["source"] in {"zendesk", "freshdesk", "survey"}
        assert row["channel"] in {"chat", "email", "phone", "messaging"}
        assert row["segment"] in {"buyer", "seller"}
        assert re.fullmatch(r"C\d{5}", row["customer_id"])
        assert 1 <= int(row["rating"]) <= 5
        assert row["nps"] == "" or 0 <= int(row["nps"]) <= 10
        assert row["ces"] == "" or 1 <= int(row["ces"]) <= 7
        assert row["browser"] in {"Chrome", "Safari", "Firefox", "Edge", "app"}
        assert (row["app_version"] != "") == (row["browser"] == "app")
        assert row["app_version"] == "" or re.fullmatch(r"\d+\.\d+\.\d+", row["app_version"])
        assert row["ticket_status"] in {"open", "pending", "solved", "closed", "reopened"}
        if row["source"] == "survey":
            assert row["ticket_status"] in {"solved", "closed"}
        assert row["first_contact_resolution"] in {"true", "false"}
        assert row["escalated"] in {"true", "false"}
    nps_share = sum(r["nps"] != "" for r in rows) / len(rows)
    ces_share = sum(r["ces"] != "" for r in rows) / len(rows)
    assert 0.5 <= nps_share <= 0.7 and 0.2 <= ces_share <= 0.4
    assert {r["channel"] for r in rows} == {"chat", "email", "phone", "messaging"}


def test_timestamps_parse_and_are_ordered(rows: list[dict[str, str]]) -> None:
    week_starts = {w: datetime.combine(date.fromisocalendar(int(w[:4]), int(w[6:]), 1),
                                       datetime.min.time(), UTC) for w in EXPECTED_WEEKS}
    over_48h = resolved_count = 0
    for row in rows:
        created = _ts(row["created_at"])
        start = week_starts[_week(row["created_at"])]
        assert start <= created < start + timedelta(days=7)
        opened = _ts(row["opened_at"])
        first = _ts(row["first_response_at"]) if row["first_response_at"] else None
        resolved = _ts(row["resolved_at"]) if row["resolved_at"] else None
        if first:
            assert opened <= first
            if row["channel"] == "chat":
                assert first - opened <= timedelta(hours=2)
            if row["channel"] == "phone":
                assert first - opened <= timedelta(days=1)
        if resolved:
            assert opened <= resolved and (first is None or first <= resolved)
            resolved_count += 1
            over_48h += resolved - opened > timedelta(hours=48)
        assert (resolved is None) == (row["ticket_status"] in {"open", "pending"})
    assert 0.03 <= over_48h / resolved_count <= 0.35
    assert [r["created_at"] for r in rows] == sorted(r["created_at"] for r in rows)


def test_external_ids_unique(rows: list[dict[str, str]]) -> None:
    ids = [r["external_id"] for r in rows]
    assert len(set(ids)) == len(ids)
    prefix = {"zendesk": "ZD", "freshdesk": "FD", "survey": "SV"}
    assert all(re.fullmatch(rf"{prefix[r['source']]}-\d+", r["external_id"]) for r in rows)


@pytest.mark.parametrize("seed", [7, 1, 2024])
def test_emerging_and_fading_problems(seed: int) -> None:
    labeled = generate_labeled_demo(seed=seed)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for row, pid in labeled:
        counts[pid][_week(row["created_at"])] += 1
    emerging = [counts[EMERGING_PROBLEM][w] for w in EXPECTED_WEEKS]
    assert emerging[:-2] == [0] * 6
    assert emerging[-1] > emerging[-2] > 0
    assert emerging[-1] >= 2 * emerging[-2]
    fading = [counts[FADING_PROBLEM][w] for w in EXPECTED_WEEKS]
    assert fading[-1] < fading[-2] < 0.6 * statistics.mean(fading[:-2])


def test_texts_varied_and_clean(labeled: list[tuple[dict[str, str], str]]) -> None:
    texts = [r["text"] for r, _ in labeled]
    assert not any(ch in t for t in texts for ch in "{}[]")
    by_problem: dict[str, set[str]] = defaultdict(set)
    for row, pid in labeled:
        by_problem[pid].add(row["text"])
    big = [pid for pid, n in Counter(pid for _, pid in labeled).items()
           if n >= 40 and PROBLEM_CATEGORIES[pid] != "other"]
    assert big and all(len(by_problem[pid]) >= 20 for pid in big)
    assert sum("PP-1002" in t.upper() or "paypal" in t.lower() for t in texts) >= 15


def test_personal_data_present(rows: list[dict[str, str]]) -> None:
    texts = [r["text"] for r in rows]
    emails = [t for t in texts if re.search(r"[\w.]+@[\w.]+\.\w+", t)]
    phone_re = re.compile(r"\+\d{1,2} \d|\(\d{3}\) \d{3}-\d{4}|0\d{4} \d{6}|555-")
    phones = [t for t in texts if phone_re.search(t)]
    cards = [m.group(0) for t in texts for m in re.finditer(r"(?<!\+)\b\d[\d -]{13,20}\d\b", t)]
    assert emails and phones and cards
    assert all(_luhn_ok(re.sub(r"\D", "", c)) for c in cards)
    share = (len(set(emails) | set(phones)) + len(cards)) / len(texts)
    assert 0.015 <= share <= 0.06


def test_metadata_correlates_with_problems(labeled: list[tuple[dict[str, str], str]]) -> None:
    crash = [r for r, pid in labeled if pid == "android_crash_order_history"]
    android = {"Pixel 7", "Galaxy S23", "Galaxy A14", "OnePlus 11"}
    assert sum(r["device"] in android for r in crash) / len(crash) >= 0.8
    assert sum(r["app_version"].startswith("5.3") for r in crash) / len(crash) >= 0.75

    def mean_rating(category: str) -> float:
        return statistics.mean(int(r["rating"]) for r, pid in labeled
                               if PROBLEM_CATEGORIES[pid] == category)

    praise = statistics.mean(int(r["rating"]) for r, pid in labeled if pid == "praise")
    assert mean_rating("payment") < 3.6 < 4.3 < praise  # support lifts ratings; payment still lowest
    payout = [r for r, pid in labeled if pid == "seller_payout_delayed"]
    assert sum(r["segment"] == "seller" for r in payout) / len(payout) >= 0.8


def test_customers_report_same_problem_repeatedly(
        labeled: list[tuple[dict[str, str], str]]) -> None:
    weeks_by_pair: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row, pid in labeled:
        if PROBLEM_CATEGORIES[pid] != "other":
            weeks_by_pair[(row["customer_id"], pid)].add(_week(row["created_at"]))
    assert sum(len(w) >= 2 for w in weeks_by_pair.values()) >= 20


def test_write_demo_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "demo.csv"
    count = write_demo_csv(path, weeks=3, end_week="2026-W10", seed=5, per_week=60)
    expected = generate_demo(weeks=3, end_week="2026-W10", seed=5, per_week=60)
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == DEMO_COLUMNS
        read = list(reader)
    assert count == len(expected) == len(read)
    assert read == expected


def test_cli_writes_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cli.csv"
    assert main([str(path), "--weeks", "2", "--per-week", "30", "--seed", "3"]) == 0
    assert "rows" in capsys.readouterr().out
    with open(path, newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == len(generate_demo(weeks=2, per_week=30, seed=3))
