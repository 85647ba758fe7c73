"""Real store (SQLite, and PostgreSQL when configured) + real model: ingest idempotency, weekly runs,
cache reuse, crash consistency, CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from feedback_miner.adapters import tables as t
from feedback_miner.adapters.readers import read_rows
from feedback_miner.adapters.store import Store, open_store
from feedback_miner.cli import app
from feedback_miner.demo.generate import write_demo_csv
from feedback_miner.errors import ConflictError
from feedback_miner.services.weekly import run_week
from feedback_miner.stages.ingest import ColumnMapping, IngestReport, parse_rows

pytestmark = pytest.mark.slow
WEEKS = ("2026-W45", "2026-W46")


def _ingest(store: Store, path: Path) -> IngestReport:
    report = IngestReport()
    for item in parse_rows(read_rows(path), ColumnMapping(), default_source="demo", report=report):
        _, outcome = store.upsert_feedback(item)
        setattr(report, {"stored": "stored", "updated": "updated"}.get(outcome, "duplicates"),
                getattr(report, {"stored": "stored", "updated": "updated"}.get(outcome, "duplicates")) + 1)
    return report


@pytest.fixture(scope="module")
def demo_store(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Path]]:
    """One store per backend shared by the module's tests (they build on each other, in order)."""
    csv_path = tmp_path_factory.mktemp("demo") / "demo.csv"
    write_demo_csv(csv_path, weeks=2, end_week=WEEKS[-1], per_week=90)
    store = open_store(module_db_url)
    yield store, csv_path
    store.engine.dispose()


def _count(store: Store, table: t.Table) -> int:  # type: ignore[name-defined]
    with store.tx() as c:
        return int(c.execute(select(func.count()).select_from(table)).scalar_one())


def test_reingest_adds_nothing_twice(demo_store) -> None:  # type: ignore[no-untyped-def]
    store, path = demo_store
    first = _ingest(store, path)
    assert first.stored > 150 and first.rejected == 0
    second = _ingest(store, path)
    assert second.stored == 0 and second.duplicates == first.stored
    assert store.count_feedback() == first.stored
    with store.tx() as c:
        texts = [r[0] for r in c.execute(select(t.feedback.c.text))]
    assert not any("@example" in x or "4111 1111" in x for x in texts)


def test_weekly_runs_store_digests_and_reuse_embeddings(demo_store, real_embedder, shipped_classifier) -> None:  # type: ignore[no-untyped-def]
    store, _ = demo_store
    clf, manifest = shipped_classifier
    for w in WEEKS:
        d = run_week(store, real_embedder, clf, week=w, classifier_version=manifest["version"])
        assert d.counts["analysed"] > 50 and d.top_problems
    cached = _count(store, t.embeddings)
    d = run_week(store, real_embedder, clf, week=WEEKS[-1], classifier_version=manifest["version"])
    assert _count(store, t.embeddings) == cached, "re-running a week must not re-embed"
    assert store.get_digest(WEEKS[-1])["counts"] == d.counts
    top = d.top_problems[0]
    assert {"title", "keywords", "quotes", "severity_terms", "priority", "weekly_counts"} <= set(top)
    assert d.metrics and any(m.key == "csat" for m in d.metrics)
    # Problems recur: most of last week's issue problems are found again this week under the same id.
    with store.tx() as c:
        ids_w45 = {r[0] for r in c.execute(
            select(t.problem_weeks.c.problem_id).where(t.problem_weeks.c.week == WEEKS[0]))}
    ids_w45 = {i for i in ids_w45 if not i.startswith("other-")}
    ids_w46 = {p["id"] for p in d.top_problems}
    assert ids_w45 and len(ids_w45 & ids_w46) >= (len(ids_w45) + 1) // 2


def test_crash_mid_run_leaves_store_consistent(demo_store, real_embedder, shipped_classifier, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store, _ = demo_store
    clf, manifest = shipped_classifier
    before = store.get_digest(WEEKS[0])
    n_members = _count(store, t.problem_members)

    def boom(*a, **k):  # type: ignore[no-untyped-def]
        raise RuntimeError("power cut")

    monkeypatch.setattr("feedback_miner.services.weekly._save", boom)  # inside the run's unit of work
    with pytest.raises(RuntimeError, match="power cut"):
        run_week(store, real_embedder, clf, week=WEEKS[0], classifier_version=manifest["version"])
    assert store.get_digest(WEEKS[0]) == before
    assert _count(store, t.problem_members) == n_members
    with store.tx() as c:
        last = c.execute(select(t.runs.c.status, t.runs.c.error).order_by(t.runs.c.id.desc())).first()
    assert last is not None and last[0] == "failed" and "power cut" in last[1]
    assert store.running_run() is None


def test_a_second_run_is_refused_while_one_is_running(demo_store, real_embedder, shipped_classifier) -> None:  # type: ignore[no-untyped-def]
    store, _ = demo_store
    clf, manifest = shipped_classifier
    rid = store.claim_run(WEEKS[0], owner="another-host:1")
    try:
        with pytest.raises(ConflictError, match="already in progress"):
            run_week(store, real_embedder, clf, week=WEEKS[0], classifier_version=manifest["version"])
    finally:
        store.finish_run(rid, "done")


def test_cli_analyze_and_classify(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    write_demo_csv(src, weeks=3, end_week="2026-W46", per_week=60)
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["analyze", str(src), "--out", str(out), "--id-column", "external_id",
                                 "--time-column", "created_at"])
    assert r.exit_code == 0, r.output
    problems = json.loads((out / "problems.json").read_text())
    assert problems and {"id", "title", "keywords", "size", "quotes", "severity_terms", "priority", "weekly_counts",
                         "status"} <= set(problems[0])
    assert {p["category"] for p in problems} >= {"payment", "other"}
    lines = (out / "feedback.csv").read_text().splitlines()
    assert lines[0] == "id,category,confidence,problem_id" and len(lines) > 150
    assert (out / "digest.md").read_text().startswith("# Top issues")

    cls_out = tmp_path / "classified.csv"
    r = CliRunner().invoke(app, ["classify", str(src), "--text-column", "text", "--output", str(cls_out)])
    assert r.exit_code == 0, r.output
    header = cls_out.read_text().splitlines()[0]
    assert header.endswith("category,confidence,secondary_category")


def test_cli_reports_bad_rows_and_counts(tmp_path: Path, db_url: str) -> None:
    f = tmp_path / "t.csv"
    f.write_text("body,ts,stars\nApp crashes,2026-11-17T10:00:00Z,1\n,2026-11-17T10:00:00Z,1\nOk,not-a-time,3\n")
    db = db_url
    r = CliRunner().invoke(app, ["ingest", str(f), "--db", db, "-c", "text=body", "-c", "created_at=ts", "-c", "rating=stars"])
    assert r.exit_code == 0, r.output
    assert "row 3, field 'text': text is empty" in r.output
    assert "row 4, field 'created_at': unparseable time" in r.output
    assert "3 rows read: 1 stored, 0 updated, 0 duplicates skipped, 2 rejected" in r.output
