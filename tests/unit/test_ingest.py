"""Every bad-input case is reported with its row and reason and skipped; good rows are kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feedback_miner.adapters.readers import read_mapping_file, read_rows
from feedback_miner.errors import InputError
from feedback_miner.stages.ingest import ColumnMapping, IngestReport, parse_rows


def _ingest(path: Path, mapping: dict[str, str] | None = None) -> tuple[list, IngestReport]:  # type: ignore[type-arg]
    report = IngestReport()
    items = list(parse_rows(read_rows(path), ColumnMapping(mapping or {}), default_source="test", report=report))
    return items, report


def test_bad_rows_are_reported_and_good_rows_kept(tmp_path: Path) -> None:
    p = tmp_path / "f.csv"
    p.write_bytes(
        b"comment,when,stars,id\n"
        b"App crashes on checkout,2026-11-17T10:00:00Z,2,a1\n"
        b",2026-11-17T10:00:00Z,3,a2\n"
        b"Refund missing,yesterday-ish,3,a3\n"
        b"Card declined,2026-11-17 11:00,7,a4\n"
        b"Broken \xff\xfe bytes,2026-11-17T10:00:00Z,3,a5\n"
        b"Parcel never arrived; mail me at a.b@example.com,2026-11-18T08:00:00+02:00,1,a6\n"
    )
    items, report = _ingest(p, {"text": "comment", "created_at": "when", "rating": "stars", "external_id": "id"})
    assert [i.external_id for i in items] == ["a1", "a6"]
    reasons = {e.row: (e.field, e.reason) for e in report.errors}
    assert reasons[3] == ("text", "text is empty")
    assert reasons[4][0] == "created_at" and "unparseable time" in reasons[4][1]
    assert reasons[5][0] == "rating" and "out of range" in reasons[5][1]
    assert reasons[6][0] == "text" and "broken encoding" in reasons[6][1]
    assert report.read == 6 and report.rejected == 4
    assert "[EMAIL]" in items[1].text and "example.com" not in items[1].text
    assert items[1].created_at.utcoffset().total_seconds() == 0 and items[1].created_at.hour == 6


def test_jsonl_bad_line_and_nps(tmp_path: Path) -> None:
    p = tmp_path / "f.jsonl"
    p.write_text(
        json.dumps({"text": "love it", "created_at": "2026-11-17T10:00:00Z", "nps": 10}) + "\n"
        + "{not json\n"
        + json.dumps({"text": "meh", "created_at": "2026-11-17T10:00:00Z", "nps": 11}) + "\n"
    )
    items, report = _ingest(p)
    assert len(items) == 1 and items[0].nps == 10
    assert [e.row for e in report.errors] == [2, 3]
    assert "not valid JSON" in str(report.errors[0]) and "nps" in str(report.errors[1])


def test_missing_external_id_gets_a_stable_one(tmp_path: Path) -> None:
    p = tmp_path / "f.csv"
    p.write_text("text,created_at\nhello there,2026-11-17T10:00:00Z\n")
    a, _ = _ingest(p)
    b, _ = _ingest(p)
    assert a[0].external_id == b[0].external_id and a[0].external_id.startswith("sha256:")


def test_unknown_mapping_field_is_named() -> None:
    with pytest.raises(InputError, match="unknown field"):
        ColumnMapping({"txt": "comment"})


def test_unsupported_file_and_bad_mapping_file(tmp_path: Path) -> None:
    (tmp_path / "x.xlsx").write_text("x")
    with pytest.raises(InputError, match="unsupported file type"):
        read_rows(tmp_path / "x.xlsx")
    (tmp_path / "m.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="mapping must be an object"):
        read_mapping_file(tmp_path / "m.json")


def test_parquet(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["slow app", ""], "created_at": ["2026-11-17T10:00:00Z"] * 2}), tmp_path / "f.parquet")
    items, report = _ingest(tmp_path / "f.parquet")
    assert len(items) == 1 and report.errors[0].row == 2
