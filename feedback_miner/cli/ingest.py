"""``feedback-miner ingest | classify | analyze``: files in, the store or result files out."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from feedback_miner.cli.app import DbOpt, SchedulerOpt, app, container, fail, handled, progress
from feedback_miner.errors import InputError

if TYPE_CHECKING:
    from feedback_miner.bootstrap import Container

__all__ = ["analyze", "classify", "ingest", "ingest_file"]


def ingest_file(c: Container, file: Path, *, source: str, mapping: Path | None, column: list[str] | None,
                show_errors: int, delimiter: str | None = None) -> None:
    """Ingest one file; exits 1 when no row was accepted (a re-ingest of duplicates is fine)."""
    from feedback_miner.adapters.readers import open_table, read_mapping_file
    from feedback_miner.domain.pii_policy import usable_key
    from feedback_miner.stages.ingest import IngestReport, parse_rows, plan_columns

    cols = read_mapping_file(mapping) if mapping else {}
    for spec in column or []:
        if "=" not in spec:
            raise InputError(f"--column {spec!r} must look like FIELD=COLUMN")
        k, v = spec.split("=", 1)
        cols[k.strip()] = v.strip()
    s = c.settings
    key = usable_key(s.pseudonym_key.get_secret_value() if s.pseudonym_key else None)
    table = open_table(file, delimiter=delimiter)
    plan = plan_columns(table.columns, cols)
    if table.delimiter:
        typer.echo(f"delimiter: {table.describe_delimiter()}", err=True)
    typer.echo(f"columns: {plan.describe()}", err=True)
    for warning in plan.warnings:
        typer.secho(f"warning: {warning}", fg="yellow", err=True)
    store = c.store
    report = IngestReport()
    for item in parse_rows(table.rows, plan.mapping, default_source=source, report=report, pseudonym_key=key):
        _, outcome = store.upsert_feedback(item)
        if outcome == "stored":
            report.stored += 1
        elif outcome == "updated":
            report.updated += 1
        else:
            report.duplicates += 1
    for err in report.errors[:show_errors]:
        typer.secho(f"skipped {err}", fg="yellow", err=True)
    if len(report.errors) > show_errors:
        typer.echo(f"… and {len(report.errors) - show_errors} more bad rows", err=True)
    typer.echo(report.summary())
    if report.accepted == 0:
        typer.secho("error: no row was stored", fg="red", err=True)
        raise typer.Exit(1)


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="CSV, JSONL or Parquet file of comments or tickets")],
    db: DbOpt = None,
    source: Annotated[str, typer.Option(help="source name for rows without a source column")] = "file",
    mapping: Annotated[Path | None, typer.Option(help="JSON/TOML file mapping fields to columns, e.g. {\"text\": \"comment\"}")] = None,
    column: Annotated[list[str] | None, typer.Option("--column", "-c", help="FIELD=COLUMN, repeatable (e.g. -c text=comment)")] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter: , ; tab or |; default sniffed")] = None,
    show_errors: Annotated[int, typer.Option(help="how many bad rows to list")] = 50,
) -> None:
    """Load survey comments or ticket exports into the store (idempotent on source + external id).

    Exit status: 0 when rows were stored (or were all already there), 1 when no row was accepted,
    2 on a file-level or configuration error."""
    with handled():
        ingest_file(container(db), file, source=source, mapping=mapping, column=column, show_errors=show_errors,
                    delimiter=delimiter)


@app.command()
def classify(
    input: Annotated[Path, typer.Argument(help="CSV file to classify")],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV to write")],
    text_column: Annotated[str, typer.Option(help="column holding the text")] = "text",
) -> None:
    """Write every input row back with category, confidence and secondary_category (text redacted)."""
    from feedback_miner.domain.pii_policy import redact_record
    from feedback_miner.services.analysis import classify_texts

    with handled():
        with input.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            rows = [redact_record(r) for r in reader]  # every cell, as it is written back to OUT
            fields = list(reader.fieldnames or [])
        if text_column not in fields:
            raise InputError(f"{input}: no column {text_column!r}; columns are {fields}")
        c = container()
        clf, _ = c.classifier()
        texts = [" ".join((r.get(text_column) or "").split()) for r in rows]
        preds, _ = classify_texts(texts, c.embedder(), clf, progress=progress())
    with output.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=[*fields, "category", "confidence", "secondary_category"])
        w.writeheader()
        for r, t, p in zip(rows, texts, preds):
            r[text_column] = t
            if not t:
                r.update(category="", confidence="", secondary_category="")
            else:
                r.update(category=p.category, confidence=f"{p.confidence:.4f}", secondary_category=p.secondary_category or "")
            w.writerow(r)
    typer.echo(f"wrote {len(rows)} rows to {output}")


@app.command()
def analyze(
    input: Annotated[Path, typer.Argument(help="CSV, JSONL or Parquet file")],
    out: Annotated[Path, typer.Option(help="output directory")],
    text_column: Annotated[str, typer.Option(help="column holding the text")] = "text",
    id_column: Annotated[str | None, typer.Option(help="column holding an id")] = None,
    time_column: Annotated[str | None, typer.Option(help="column holding the created time: treats the file as history")] = None,
    category_column: Annotated[str | None, typer.Option(help="use these categories instead of predicting")] = None,
    min_cluster_size: Annotated[int, typer.Option(help="0 = chosen from the data size")] = 0,
    scheduler: SchedulerOpt = None,
) -> None:
    """Run the whole pipeline on one file without touching the store."""
    from feedback_miner.services.analyze_file import analyze_file

    if min_cluster_size < 0:
        fail(f"--min-cluster-size must be 0 (automatic) or a positive number, got {min_cluster_size}")
    with handled():
        c = container(scheduler=scheduler)
        clf, _ = c.classifier()
        paths = analyze_file(input, out, text_column=text_column, id_column=id_column, time_column=time_column,
                             category_column=category_column, embedder=c.embedder(), clf=clf,
                             settings=c.settings, min_cluster_size=min_cluster_size, progress=progress())
    for p in paths:
        typer.echo(f"wrote {p}")
