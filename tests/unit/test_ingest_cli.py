"""`feedback-miner ingest` and `classify` on real SQLite files: exit codes, the mapping and delimiter
used, and no personal data in the store or in the classified output."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from feedback_miner.cli import app

KEY = "cli-test-key-0123456789"
PII = ("jane.doe@example.com", "jörg@müller.de", "555.123.4567", "7700 900123", "4111", "DE89370400440532013000")


def _run(args: list[str], monkeypatch: pytest.MonkeyPatch, key: str | None = KEY):  # type: ignore[no-untyped-def]
    if key:
        monkeypatch.setenv("FM_PSEUDONYM_KEY", key)
    else:
        monkeypatch.delenv("FM_PSEUDONYM_KEY", raising=False)
    return CliRunner().invoke(app, args)


def _dump(db: Path) -> str:
    con = sqlite3.connect(db)
    try:
        return "\n".join(str(r) for line in con.iterdump() for r in [line])
    finally:
        con.close()


def test_missing_mapped_column_fails_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "t.csv"
    f.write_text("comment,created_at\nApp crashes,2026-11-17T10:00:00Z\n")
    r = _run(["ingest", str(f), "--db", f"sqlite:///{tmp_path / 'x.db'}", "-c", "text=body"], monkeypatch)
    assert r.exit_code != 0
    assert "'body' (mapped to text) not in the file; columns present: 'comment', 'created_at'" in r.output
    assert "text is empty" not in r.output


def test_no_row_stored_exits_non_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "t.csv"
    f.write_text("text,created_at\n,2026-11-17T10:00:00Z\nhello,not a time\n")
    r = _run(["ingest", str(f), "--db", f"sqlite:///{tmp_path / 'x.db'}"], monkeypatch)
    assert r.exit_code == 1 and "no row was stored" in r.output and "2 rejected" in r.output


def test_semicolon_file_default_mapping_and_reingest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "export.csv"
    f.write_text("Ticket ID;Created;Comment\n17;2026-11-17T10:00:00Z;Le paiement échoue, encore\n"
                 "18;2026-11-17T11:00:00Z;Colis perdu\n", encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'x.db'}"
    r = _run(["ingest", str(f), "--db", db], monkeypatch)
    assert r.exit_code == 0, r.output
    assert "delimiter: semicolon" in r.output
    assert "text ← 'Comment'" in r.output and "external_id ← 'Ticket ID'" in r.output
    assert "2 rows read: 2 stored" in r.output
    again = _run(["ingest", str(f), "--db", db], monkeypatch)
    assert again.exit_code == 0 and "0 stored, 0 updated, 2 duplicates skipped" in again.output


def test_no_id_column_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "t.csv"
    f.write_text("text,created_at\nhello,2026-11-17T10:00:00Z\n")
    r = _run(["ingest", str(f), "--db", f"sqlite:///{tmp_path / 'x.db'}"], monkeypatch)
    assert r.exit_code == 0 and "warning: no id column" in r.output


def _pii_file(tmp_path: Path) -> Path:
    f = tmp_path / "pii.csv"
    f.write_text(
        "external_id,customer_id,created_at,segment,device,text\n"
        "jane.doe@example.com,+44 7700 900123,2026-11-17T10:00:00Z,vip jörg@müller.de,Jane's 555.123.4567,"
        "\"card 4111 1111 1111 1111 05/27 refused, refund to DE89370400440532013000\"\n"
        "t-2,c-2,2026-11-17T11:00:00Z,smb,android,call me on 555.123.4567\n", encoding="utf-8")
    return f


def test_nothing_personal_reaches_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "x.db"
    r = _run(["ingest", str(_pii_file(tmp_path)), "--db", f"sqlite:///{db}"], monkeypatch)
    assert r.exit_code == 0, r.output
    assert "2 stored" in r.output
    dump = _dump(db)
    assert "pid_" in dump and "[CARD]" in dump and "[IBAN]" in dump
    assert [p for p in PII if p in dump] == []
    assert [p for p in PII if p in r.output] == []


def test_without_the_key_pii_ids_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "x.db"
    r = _run(["ingest", str(_pii_file(tmp_path)), "--db", f"sqlite:///{db}"], monkeypatch, key=None)
    assert r.exit_code != 0 and "FM_PSEUDONYM_KEY" in r.output
    assert not db.exists() or "jane.doe@example.com" not in _dump(db)


def test_classify_output_is_redacted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from feedback_miner import bootstrap
    from feedback_miner.testing import HashingEmbedder

    monkeypatch.setattr(bootstrap, "make_embedder", lambda s, online=False: HashingEmbedder(384))
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text("id,email,text\n1,jane.doe@example.com,\"my card 4111111111111111 123 was charged twice, "
                   "call 555.123.4567\"\n2,,app crashes on start\n", encoding="utf-8")
    r = _run(["classify", str(src), "--output", str(out)], monkeypatch)
    assert r.exit_code == 0, r.output
    written = out.read_text(encoding="utf-8")
    assert [p for p in PII if p in written] == []
    assert "[EMAIL]" in written and "[CARD]" in written and "[PHONE]" in written
    assert written.splitlines()[0] == "id,email,text,category,confidence,secondary_category"
