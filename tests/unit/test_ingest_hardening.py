"""Ingest hardening: every bad value is a row error (never a traceback) and good rows after it are kept;
file-level mistakes are one clear error; delimiters are sniffed; conflicts and over-long texts are reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feedback_miner.adapters.readers import open_table, read_rows, sniff_delimiter
from feedback_miner.errors import InputError
from feedback_miner.stages.ingest import ColumnMapping, IngestReport, parse_row, parse_rows, plan_columns


def _parse(rows, mapping: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    report = IngestReport()
    items = list(parse_rows(rows, ColumnMapping(mapping or {}), default_source="t", report=report))
    return items, report


def _jsonl(tmp_path: Path, recs: list[dict[str, object]]) -> Path:
    p = tmp_path / "f.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    return p


def test_numeric_times_in_jsonl_are_epochs_or_row_errors(tmp_path: Path) -> None:
    times: list[object] = [1731230000, 1731230000000, 1e20, -1e13, float("nan"), "1731230000", 1731230000.5, True]
    recs = [{"text": f"t{i}", "created_at": v, "external_id": f"e{i}"} for i, v in enumerate(times)]
    recs.append({"text": "good after the bad ones", "created_at": "2026-11-10T10:00:00Z", "external_id": "last"})
    items, report = _parse(read_rows(_jsonl(tmp_path, recs)))
    assert [i.external_id for i in items] == ["e0", "e1", "e5", "e6", "last"]
    assert items[0].created_at == items[1].created_at == items[2].created_at
    assert items[0].created_at.isoformat() == "2024-11-10T09:13:20+00:00"
    errors = {e.row: e for e in report.errors}
    assert sorted(errors) == [3, 4, 5, 8]
    assert all(e.field == "created_at" for e in errors.values())
    assert "between 2000 and 2100" in errors[3].reason and "between 2000 and 2100" in errors[4].reason
    assert "missing" in errors[5].reason  # NaN


def test_numeric_times_in_parquet(tmp_path: Path) -> None:
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    pq.write_table(pa.table({"text": ["a", "b", "c", "d"], "created_at": [1731230000000, 1e20, float("nan"), 1731230000],
                             "external_id": ["1", "2", "3", "4"]}), tmp_path / "f.parquet")
    items, report = _parse(read_rows(tmp_path / "f.parquet"))
    assert [i.external_id for i in items] == ["1", "4"]
    assert [(e.row, e.field) for e in report.errors] == [(2, "created_at"), (3, "created_at")]


def test_a_mapped_column_that_does_not_exist_is_one_file_error() -> None:
    with pytest.raises(InputError) as exc:
        plan_columns(["comment", "when"], {"text": "body"})
    msg = str(exc.value)
    assert "'body'" in msg and "mapped to text" in msg and "'comment', 'when'" in msg


def test_no_text_or_time_column_is_one_file_error() -> None:
    with pytest.raises(InputError, match="no text column.*'a', 'b'"):
        plan_columns(["a", "b"])
    with pytest.raises(InputError, match="no time column.*'text', 'b'"):
        plan_columns(["text", "b"])
    assert plan_columns(["text", "opened_at"]).used == {"text": "text", "opened_at": "opened_at"}


def test_default_mapping_for_obvious_names_and_the_no_id_warning() -> None:
    plan = plan_columns(["Ticket ID", "Created", "Comment", "Status"])
    assert plan.used == {"text": "Comment", "external_id": "Ticket ID", "created_at": "Created",
                         "ticket_status": "Status"}
    assert plan.warnings == ()
    assert "text ← 'Comment'" in plan.describe()
    plan = plan_columns(["body", "timestamp"])
    assert plan.used == {"text": "body", "created_at": "timestamp"}
    assert len(plan.warnings) == 1 and "idempotency rests on content" in plan.warnings[0]
    # a field's own name wins over an alias; an explicit mapping wins over both
    assert plan_columns(["text", "comment", "date"]).used["text"] == "text"
    assert plan_columns(["text", "comment", "date"], {"text": "comment"}).used["text"] == "comment"


@pytest.mark.parametrize(("sep", "name"), [(";", "semicolon"), ("\t", "tab"), ("|", "pipe"), (",", "comma")])
def test_delimiter_is_sniffed_and_reported(tmp_path: Path, sep: str, name: str) -> None:
    p = tmp_path / "f.csv"
    rows = [["id", "text", "created_at"], ["1", "Le paiement échoue, encore", "2026-11-10T10:00:00Z"],
            ["2", "Colis perdu; aucune nouvelle", "2026-11-10T11:00:00Z"]]
    p.write_text("\n".join(sep.join(f'"{c}"' if (sep in c or "," in c or ";" in c) else c for c in r)
                           for r in rows) + "\n")
    table = open_table(p)
    assert table.delimiter == sep and table.describe_delimiter() == name
    assert table.columns == ["id", "text", "created_at"]
    items, _ = _parse(table.rows, {"external_id": "id"})
    assert [i.text for i in items] == ["Le paiement échoue, encore", "Colis perdu; aucune nouvelle"]


def test_explicit_delimiter_and_bad_delimiter(tmp_path: Path) -> None:
    p = tmp_path / "f.csv"
    p.write_text("text;created_at\nhello;2026-11-10T10:00:00Z\n")
    assert open_table(p, delimiter="semicolon").delimiter == ";"
    assert open_table(p, delimiter=";").columns == ["text", "created_at"]
    with pytest.raises(InputError, match="not one of"):
        open_table(p, delimiter=":")
    assert sniff_delimiter("text\nhello, world\n") == ","


def test_same_id_with_different_text_is_a_conflict_naming_both_rows() -> None:
    rows = [(2, {"external_id": "a1", "text": "first text", "created_at": "2026-11-10T10:00:00Z"}),
            (3, {"external_id": "a1", "text": "first text", "created_at": "2026-11-10T10:00:00Z", "ticket_status": "solved"}),
            (4, {"external_id": "a1", "text": "another text", "created_at": "2026-11-10T10:00:00Z"})]
    items, report = _parse(rows)
    assert [i.text for i in items] == ["first text", "first text"]  # a later snapshot of the same ticket is fine
    (err,) = report.errors
    assert err.row == 4 and err.field == "external_id" and "conflicts with row 2" in err.reason


def test_text_over_the_limit_is_reported_not_cut() -> None:
    rows = [(2, {"text": "x " * 10_001, "created_at": "2026-11-10T10:00:00Z"})]
    items, report = _parse(rows)
    assert items == [] and report.errors[0].field == "text"
    assert "20,001 characters" in report.errors[0].reason and "20,000" in report.errors[0].reason


def test_lists_and_dicts_become_json_text_and_nul_is_rejected(tmp_path: Path) -> None:
    recs: list[dict[str, object]] = [
        {"text": ["app", "crashes"], "segment": {"plan": "pro"}, "created_at": "2026-11-10T10:00:00Z", "external_id": "1"},
        {"text": "nul\u0000byte", "created_at": "2026-11-10T10:00:00Z", "external_id": "2"},
        {"text": "ok", "device": "pix\u0000el", "created_at": "2026-11-10T10:00:00Z", "external_id": "3"},
    ]
    items, report = _parse(read_rows(_jsonl(tmp_path, recs)))
    assert items[0].text == '["app", "crashes"]' and items[0].segment == '{"plan": "pro"}'
    assert [(e.row, e.field, e.reason) for e in report.errors] == [(2, "text", "contains a NUL character"),
                                                                  (3, "device", "contains a NUL character")]


def test_nested_too_deep_is_a_row_error() -> None:
    deep: object = "x"
    for _ in range(5000):
        deep = [deep]
    items, report = _parse([(1, {"text": deep, "created_at": "2026-11-10T10:00:00Z"})])
    assert items == [] and "nested too deeply" in report.errors[0].reason


@pytest.mark.parametrize("field", ["external_id", "customer_id"])
def test_ids_longer_than_128_are_row_errors(field: str) -> None:
    raw = {"text": "hi", "created_at": "2026-11-10T10:00:00Z", field: "z" * 129}
    with pytest.raises(InputError, match=f"field '{field}'.*129 characters.*128"):
        parse_row(raw, 1, ColumnMapping(), "api")
    assert getattr(parse_row({**raw, field: "z" * 128}, 1, ColumnMapping(), "api"), field) == "z" * 128


def test_labels_over_their_limit_are_row_errors() -> None:
    with pytest.raises(InputError, match="field 'device'"):
        parse_row({"text": "hi", "created_at": "2026-11-10T10:00:00Z", "device": "d" * 201}, 1, ColumnMapping(), "api")
