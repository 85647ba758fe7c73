"""The follow-up survey list over a real SQLite store: one row per customer, merges followed,
reports after the fix counted, redacted ids never restored, CSV safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from feedback_miner.adapters.followup_store import SqlFollowupReader, merged_family
from feedback_miner.adapters.registry_store import mark_fixed
from feedback_miner.adapters.store import Store, open_store
from feedback_miner.cli import app
from feedback_miner.domain.pii_policy import pseudonym
from feedback_miner.domain.ports import ProblemUpsert
from feedback_miner.domain.weeks import week_bounds
from feedback_miner.errors import NotFoundError
from feedback_miner.services.followup import CSV_COLUMNS, followup_list, to_csv
from feedback_miner.stages.ingest import ColumnMapping, IngestReport, parse_rows

W1, W2 = "2026-W45", "2026-W46"
# (external id, customer id as the export gave it, week, day offset)
KEY = "test-pseudonym-key-0123456789"
ROWS = [
    ("t1", "C1", W1, 0), ("t2", "C1", W1, 2), ("t3", "C2", W1, 1),
    ("t4", "ann@example.com", W1, 3), ("t5", "bob@example.com", W1, 4),  # stored as keyed pseudonyms
    ("t6", None, W1, 5), ("jane.doe@example.com", "=HYPERLINK(\"http://x\")", W1, 6),
    ("t7", "C1", W2, 1), ("t8", "C3", W2, 2), ("t9", "C1", W2, 3),
]


def _at(week: str, day: int) -> datetime:
    return week_bounds(week)[0] + timedelta(days=day, hours=9)


def _problem(pid: str, members: list[int], *, is_new: bool) -> ProblemUpsert:
    return ProblemUpsert(id=pid, category=pid.split("-")[0], title=f"title of {pid}", keywords=("card",),
                         centroid=np.ones(4, np.float32), count=len(members), severity=0.5, priority=0.5,
                         status="new", detail={}, member_ids=tuple(members), is_new=is_new)


def seed(store: Store) -> dict[str, int]:
    """payment-001 (W1) and payment-002 (W2, merged into payment-001); t9 belongs to shipping-001."""
    rows = [(i + 2, {"text": f"card declined {ext}", "external_id": ext, "customer_id": cid or "",
                     "created_at": _at(w, d).isoformat()}) for i, (ext, cid, w, d) in enumerate(ROWS)]
    report = IngestReport()
    items = list(parse_rows(rows, ColumnMapping(), default_source="zendesk", report=report,
                            pseudonym_key=KEY))
    # ids that held personal data are stored as keyed pseudonyms: keep the test's own names by row
    ids = {ext: store.upsert_feedback(item)[0] for (ext, *_), item in zip(ROWS, items, strict=True)}
    assert not report.errors and len(ids) == len(ROWS)
    w1 = [ids[e] for e, _, w, _ in ROWS if w == W1]
    with store.unit_of_work() as uow:
        uow.replace_week_problems(W1, [_problem("payment-001", w1, is_new=True)])
    with store.unit_of_work() as uow:
        uow.replace_week_problems(W2, [_problem("payment-002", [ids["t7"], ids["t8"]], is_new=True),
                                       _problem("shipping-001", [ids["t9"]], is_new=True),
                                       _problem("payment-001", [ids["t1"]], is_new=False)])  # t1 counted again
        uow.record_merge("payment-002", "payment-001", W2)
    mark_fixed(store, "payment-001", week=W1, by="lead")
    return ids


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = open_store(f"sqlite:///{tmp_path / 'f.db'}")
    seed(s)
    return s


def test_one_row_per_customer_with_merges_and_the_fix(store: Store) -> None:
    fl = followup_list(SqlFollowupReader(store), "payment-002")
    assert (fl.problem_id, fl.requested_id, fl.merged_ids, fl.fixed_week) == ("payment-001", "payment-002",
                                                                             ("payment-002",), W1)
    by = {(r.customer_id, r.external_id): r for r in fl.reporters}
    c1 = by[("C1", "t7")]
    assert (c1.reports, c1.first_reported_at, c1.last_reported_at) == (3, _at(W1, 0), _at(W2, 1))
    assert c1.tickets == ("zendesk:t1", "zendesk:t2", "zendesk:t7")  # t1 counted twice is one report; t9 is shipping
    assert c1.problem_weeks == (W1, W2) and c1.reports_after_fix == 1
    assert by[("C2", "t3")].reports == 1 and by[("C3", "t8")].reports_after_fix == 1
    # ids that were e-mails are stable keyed pseudonyms: one customer each, never the address
    ann, bob, jane = (pseudonym(v, KEY) for v in ("ann@example.com", "bob@example.com", "jane.doe@example.com"))
    assert by[(ann, "t4")].reports == 1 and by[(bob, "t5")].reports == 1
    assert by[(None, "t6")].tickets == ("zendesk:t6",)
    assert ('=HYPERLINK("http://x")', jane) in by  # an external id holding an e-mail is its pseudonym
    assert len(fl.reporters) == 7 and fl.reports == 9
    assert [r.first_reported_at for r in fl.reporters] == sorted(r.first_reported_at for r in fl.reporters)
    assert followup_list(SqlFollowupReader(store), "payment-001") == dataclasses.replace(fl, requested_id="payment-001")


def test_csv_is_safe_and_free_of_personal_data(store: Store) -> None:
    text = to_csv(followup_list(SqlFollowupReader(store), "payment-001"))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 7
    assert "@" not in text and "ann" not in text and "jane" not in text
    formula = [r for r in rows if "HYPERLINK" in r["customer_id"]]
    assert formula[0]["customer_id"].startswith("'=")
    c1 = next(r for r in rows if r["customer_id"] == "C1")
    assert c1["problem_weeks"] == f"{W1};{W2}" and c1["reports"] == "3"
    assert c1["tickets"] == "zendesk:t1;zendesk:t2;zendesk:t7"
    assert datetime.fromisoformat(c1["first_reported_at"]) == _at(W1, 0).astimezone(UTC)


def test_cli_writes_the_list_and_names_unknown_ids(store: Store, tmp_path: Path) -> None:
    db, out = str(store.engine.url), tmp_path / "f.csv"
    r = CliRunner().invoke(app, ["problems", "followup", "payment-002", "--out", str(out), "--db", db])
    assert r.exit_code == 0, r.output
    assert "payment-002 (merged into payment-001), fixed in 2026-W45: 7 customers or tickets, 9 reports" in r.stdout
    assert out.read_text() == to_csv(followup_list(SqlFollowupReader(store), "payment-001"))
    r = CliRunner().invoke(app, ["problems", "followup", "payment-001", "--db", db])
    assert r.exit_code == 0 and r.stdout.startswith(",".join(CSV_COLUMNS))
    r = CliRunner().invoke(app, ["problems", "followup", "nope-404", "--db", db])
    assert r.exit_code == 2 and "no problem 'nope-404'" in r.stderr and "Traceback" not in r.output
    with pytest.raises(NotFoundError):
        followup_list(SqlFollowupReader(store), "nope-404")


def test_merge_family_follows_chains_and_survives_cycles() -> None:
    redirects: dict[str, str | None] = {"a": "b", "b": "c", "x": "y", "p": "q", "q": "p"}
    assert merged_family(redirects, "c") == ("c", "a", "b")
    assert merged_family(redirects, "z") == ("z",)
    assert merged_family(redirects, "p") == ("p", "q")  # a cycle terminates, as resolve_id does
