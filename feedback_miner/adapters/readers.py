"""File readers: CSV, JSONL and Parquet into ``(row_number, raw_mapping)`` pairs.

Row numbers are what a person sees: for CSV the line in a spreadsheet (header = 1, first data
row = 2), for JSONL the line number, for Parquet the 1-based record index. Undecodable bytes are
kept as surrogate escapes so the ingest stage can reject just that row ("broken encoding").
A CSV's delimiter is given or sniffed (``,`` ``;`` tab ``|``); :func:`open_table` also returns
the column names, so a mapping can be checked against them before any row is read.
"""

from __future__ import annotations

import csv
import json
import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from feedback_miner.errors import InputError

__all__ = ["DELIMITERS", "Table", "count_rows", "open_table", "read_mapping_file", "read_rows", "sniff_delimiter"]

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

Rows = Iterator[tuple[int, Mapping[str, object]]]
#: Accepted delimiters and the names an option may give them.
DELIMITERS: dict[str, str] = {",": ",", ";": ";", "\t": "\t", "|": "|", "tab": "\t", "comma": ",",
                              "semicolon": ";", "pipe": "|", "\\t": "\t"}
_SAMPLE_BYTES = 64 * 1024
_JSONL_SCAN_ROWS = 1000


@dataclass
class Table:
    """An opened file: its column names, its rows, and (for CSV) the delimiter used."""

    path: Path
    format: str
    columns: list[str]
    rows: Rows
    delimiter: str | None = None

    def describe_delimiter(self) -> str:
        return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(self.delimiter or "", "")


def sniff_delimiter(sample: str) -> str:
    """The delimiter of a CSV sample, one of , ; tab | (csv.Sniffer, checked against the header)."""
    header = sample.splitlines()[0] if sample else ""
    counts = {d: len(next(csv.reader([header], delimiter=d), [])) for d in ",;\t|"}
    try:
        guess = csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        guess = ","
    best = max(counts, key=lambda d: (counts[d], d == ","))
    if counts[best] == 1:
        return ","  # one column: nothing to split
    # The header must split best on the delimiter: the sniffer's guess wins only among those.
    return guess if counts.get(guess, 1) == counts[best] else best


def _delimiter(path: Path, given: str | None) -> str:
    if given is not None:
        d = DELIMITERS.get(given) or DELIMITERS.get(given.lower())
        if d is None:
            raise InputError(f"delimiter {given!r} is not one of , ; tab |")
        return d
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        sample = fh.read(_SAMPLE_BYTES)
    if path.suffix.lower() == ".tsv" and "\t" in sample.split("\n", 1)[0]:
        return "\t"
    return sniff_delimiter(sample)


def _csv_header(path: Path, delimiter: str) -> list[str]:
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        header = next(csv.reader(fh, delimiter=delimiter), None)
    if not header:
        raise InputError(f"{path}: the CSV file is empty (no header row)")
    return header


def _csv(path: Path, delimiter: str = ",") -> Rows:
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        if not reader.fieldnames:
            raise InputError(f"{path}: the CSV file is empty (no header row)")
        for i, rec in enumerate(reader, start=2):
            yield i, {k: v for k, v in rec.items() if k is not None}


def _jsonl(path: Path) -> Rows:
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


def _parquet(path: Path) -> Rows:
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


def _jsonl_columns(path: Path) -> list[str]:
    cols: dict[str, None] = {}
    for _, rec in islice(_jsonl(path), _JSONL_SCAN_ROWS):
        cols.update(dict.fromkeys(k for k in rec if k != "__error__"))
    return list(cols)


def _parquet_columns(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    try:
        return list(pq.ParquetFile(path).schema_arrow.names)
    except Exception as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from exc


def open_table(path: str | Path, *, delimiter: str | None = None) -> Table:
    """Open a CSV, JSONL/NDJSON or Parquet file (chosen by extension): columns first, rows lazily.

    JSONL columns are the keys seen in the first 1,000 lines.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    ext = p.suffix.lower()
    if ext in (".csv", ".tsv", ".txt"):
        d = _delimiter(p, delimiter)
        return Table(p, "csv", _csv_header(p, d), _csv(p, d), d)
    if delimiter is not None:
        raise InputError(f"{p}: --delimiter applies to CSV files only")
    if ext in (".jsonl", ".ndjson", ".json"):
        return Table(p, "jsonl", _jsonl_columns(p), _jsonl(p))
    if ext in (".parquet", ".pq"):
        return Table(p, "parquet", _parquet_columns(p), _parquet(p))
    raise InputError(f"{p}: unsupported file type {ext!r} (use .csv, .jsonl or .parquet)")


def read_rows(path: str | Path, *, delimiter: str | None = None) -> Rows:
    """Iterate the rows of a CSV, JSONL/NDJSON or Parquet file (chosen by extension)."""
    return open_table(path, delimiter=delimiter).rows


def count_rows(path: str | Path) -> int | None:
    """Cheap row count for progress bars (None when unknown)."""
    p = Path(path)
    if p.suffix.lower() in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(p).metadata.num_rows)
        except Exception:  # noqa: BLE001 - only a progress-bar hint; reading reports the real error
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
