"""File readers: CSV, JSONL and Parquet into ``(row_number, raw_mapping)`` pairs.

Row numbers are what a person sees: for CSV the line in a spreadsheet (header = 1, first data
row = 2), for JSONL the line number, for Parquet the 1-based record index. Undecodable bytes are
kept as surrogate escapes so the ingest stage can reject just that row ("broken encoding").
"""

from __future__ import annotations

import csv
import json
import sys
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path

from feedback_miner.errors import InputError

__all__ = ["read_rows", "read_mapping_file", "count_rows"]

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def _csv(path: Path) -> Iterator[tuple[int, Mapping[str, object]]]:
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames:
            raise InputError(f"{path}: the CSV file is empty (no header row)")
        for i, rec in enumerate(reader, start=2):
            yield i, {k: v for k, v in rec.items() if k is not None}


def _jsonl(path: Path) -> Iterator[tuple[int, Mapping[str, object]]]:
    with path.open("r", encoding="utf-8", errors="surrogateescape") as fh:
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                yield i, {"__error__": f"not valid JSON: {exc.msg}"}
                continue
            yield i, rec if isinstance(rec, dict) else {"__error__": "a JSON line must be an object"}


def _parquet(path: Path) -> Iterator[tuple[int, Mapping[str, object]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow is a dependency
        raise InputError("reading Parquet needs pyarrow") from exc
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from exc
    n = 0
    for batch in pf.iter_batches(batch_size=2048):
        for rec in batch.to_pylist():
            n += 1
            yield n, rec


def read_rows(path: str | Path) -> Iterator[tuple[int, Mapping[str, object]]]:
    """Iterate the rows of a CSV, JSONL/NDJSON or Parquet file (chosen by extension)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    ext = p.suffix.lower()
    if ext in (".csv", ".tsv", ".txt"):
        return _csv(p)
    if ext in (".jsonl", ".ndjson", ".json"):
        return _jsonl(p)
    if ext in (".parquet", ".pq"):
        return _parquet(p)
    raise InputError(f"{p}: unsupported file type {ext!r} (use .csv, .jsonl or .parquet)")


def count_rows(path: str | Path) -> int | None:
    """Cheap row count for progress bars (None when unknown)."""
    p = Path(path)
    if p.suffix.lower() in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(p).metadata.num_rows)
        except Exception:
            return None
    with p.open("rb") as fh:
        n = sum(1 for _ in fh)
    return max(n - 1, 0) if p.suffix.lower() == ".csv" else n


def read_mapping_file(path: str | Path) -> dict[str, str]:
    """A column mapping from a JSON or TOML file: ``{"text": "comment", "created_at": "date"}``."""
    p = Path(path)
    try:
        raw = p.read_bytes()
        data = tomllib.loads(raw.decode()) if p.suffix.lower() == ".toml" else json.loads(raw)
    except (OSError, ValueError) as exc:
        raise InputError(f"{p}: cannot read the column mapping ({exc})") from exc
    if isinstance(data, dict) and "columns" in data and isinstance(data["columns"], dict):
        data = data["columns"]
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise InputError(f"{p}: the mapping must be an object of field name → column name strings")
    return dict(data)
