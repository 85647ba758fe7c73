"""``feedback-miner`` commands: parse, bootstrap, call, print."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer

from feedback_miner.config import Settings
from feedback_miner.errors import FeedbackMinerError

app = typer.Typer(help="Feedback Miner: turn customer feedback into the short list of problems to fix next.",
                  no_args_is_help=True, add_completion=False)

DbOpt = Annotated[Optional[str], typer.Option("--db", help="SQLAlchemy database URL (env FM_DATABASE_URL); default sqlite:///feedback_miner.db")]


def _settings(db: str | None = None) -> Settings:
    return Settings(database_url=db) if db else Settings()


def _progress() -> object:
    from feedback_miner.adapters.progress import TqdmProgress

    return TqdmProgress()


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", fg="red", err=True)
    raise typer.Exit(2)


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="CSV, JSONL or Parquet file of comments or tickets")],
    db: DbOpt = None,
    source: Annotated[str, typer.Option(help="source name for rows without a source column")] = "file",
    mapping: Annotated[Optional[Path], typer.Option(help="JSON/TOML file mapping fields to columns, e.g. {\"text\": \"comment\"}")] = None,
    column: Annotated[Optional[list[str]], typer.Option("--column", "-c", help="FIELD=COLUMN, repeatable (e.g. -c text=comment)")] = None,
    delimiter: Annotated[Optional[str], typer.Option(help="CSV delimiter: , ; tab or |; default sniffed")] = None,
    show_errors: Annotated[int, typer.Option(help="how many bad rows to list")] = 50,
) -> None:
    """Load survey comments or ticket exports into the store (idempotent on source + external id)."""
    from feedback_miner.adapters.readers import open_table, read_mapping_file
    from feedback_miner.bootstrap import make_store
    from feedback_miner.domain.pii_policy import usable_key
    from feedback_miner.stages.ingest import IngestReport, parse_rows, plan_columns

    try:
        cols = read_mapping_file(mapping) if mapping else {}
        for spec in column or []:
            if "=" not in spec:
                raise FeedbackMinerError(f"--column {spec!r} must look like FIELD=COLUMN")
            k, v = spec.split("=", 1)
            cols[k.strip()] = v.strip()
        s = _settings(db)
        key = usable_key(s.pseudonym_key.get_secret_value() if s.pseudonym_key else None)
        table = open_table(file, delimiter=delimiter)
        plan = plan_columns(table.columns, cols)
        if table.delimiter:
            typer.echo(f"delimiter: {table.describe_delimiter()}", err=True)
        typer.echo(f"columns: {plan.describe()}", err=True)
        for warning in plan.warnings:
            typer.secho(f"warning: {warning}", fg="yellow", err=True)
        store = make_store(s)
        report = IngestReport()
        for item in parse_rows(table.rows, plan.mapping, default_source=source, report=report, pseudonym_key=key):
            _, outcome = store.upsert_feedback(item)
            if outcome == "stored":
                report.stored += 1
            elif outcome == "updated":
                report.updated += 1
            else:
                report.duplicates += 1
            if report.read % 500 == 0:
                typer.echo(f"… {report.read} rows", err=True)
    except FeedbackMinerError as exc:
        _fail(exc)
        return
    for err in report.errors[:show_errors]:
        typer.secho(f"skipped {err}", fg="yellow", err=True)
    if len(report.errors) > show_errors:
        typer.echo(f"… and {len(report.errors) - show_errors} more bad rows", err=True)
    typer.echo(report.summary())
    if report.accepted == 0:
        typer.secho("error: no row was stored", fg="red", err=True)
        raise typer.Exit(1)


@app.command()
def run(
    week: Annotated[Optional[str], typer.Option(help="ISO week like 2026-W47; default the last complete week")] = None,
    db: DbOpt = None,
) -> None:
    """Embed what is new, classify, cluster, score and store the week's digest."""
    from feedback_miner.adapters.progress import TqdmProgress
    from feedback_miner.bootstrap import cluster_params, make_classifier, make_embedder, make_store
    from feedback_miner.domain.weeks import last_complete_week
    from feedback_miner.weekly import run_week

    s = _settings(db)
    try:
        week = week or last_complete_week(datetime.now(timezone.utc))
        store = make_store(s)
        clf, manifest = make_classifier(s)
        d = run_week(store, make_embedder(s), clf, week=week, classifier_version=manifest["version"],
                     params=cluster_params(s), baseline_weeks=s.baseline_weeks, match_threshold=s.match_threshold,
                     top_n=s.top_n, progress=TqdmProgress())
    except (FeedbackMinerError, ValueError) as exc:
        _fail(exc)
        return
    c = d["counts"]
    typer.echo(f"{week}: {c['analysed']} texts, {c['problems']} problems, {c['other']} other, {c['unclustered']} unclustered")


@app.command()
def digest(
    week: Annotated[str, typer.Option(help="ISO week like 2026-W47")],
    format: Annotated[str, typer.Option("--format", help="md, json or html")] = "md",
    db: DbOpt = None,
    out: Annotated[Optional[Path], typer.Option(help="write to this file instead of stdout")] = None,
) -> None:
    """Print a stored weekly digest."""
    from feedback_miner.bootstrap import make_store
    from feedback_miner.render import render_digest

    if format not in ("md", "json", "html"):
        _fail(FeedbackMinerError(f"--format {format!r} must be md, json or html"))
    try:
        d = make_store(_settings(db)).get_digest(week)
    except FeedbackMinerError as exc:
        _fail(exc)
        return
    if d is None:
        _fail(FeedbackMinerError(f"no digest for {week}: run `feedback-miner run --week {week}` first"))
        return
    text = render_digest(d, format)
    if out:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")
    else:
        sys.stdout.write(text + "\n")


@app.command()
def classify(
    input: Annotated[Path, typer.Argument(help="CSV file to classify")],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV to write")],
    text_column: Annotated[str, typer.Option(help="column holding the text")] = "text",
) -> None:
    """Write every input row back with category, confidence and secondary_category."""
    from feedback_miner.bootstrap import make_classifier, make_embedder
    from feedback_miner.domain.pii_policy import redact_record
    from feedback_miner.pipeline import classify_texts

    s = Settings()
    try:
        with input.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            rows = [redact_record(r) for r in reader]  # every cell, as it is written back to OUT
            fields = list(reader.fieldnames or [])
        if text_column not in fields:
            raise FeedbackMinerError(f"{input}: no column {text_column!r}; columns are {fields}")
        clf, _ = make_classifier(s)
        texts = [" ".join((r.get(text_column) or "").split()) for r in rows]
        preds, _ = classify_texts(texts, make_embedder(s), clf, progress=_progress())  # type: ignore[arg-type]
    except FeedbackMinerError as exc:
        _fail(exc)
        return
    with output.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=[*fields, "category", "confidence", "secondary_category"])
        w.writeheader()
        for r, t, p in zip(rows, texts, preds):
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
    id_column: Annotated[Optional[str], typer.Option(help="column holding an id")] = None,
    time_column: Annotated[Optional[str], typer.Option(help="column holding the created time: treats the file as history")] = None,
    category_column: Annotated[Optional[str], typer.Option(help="use these categories instead of predicting")] = None,
    min_cluster_size: Annotated[int, typer.Option(help="0 = chosen from the data size")] = 0,
) -> None:
    """Run the whole pipeline on one file without touching the store."""
    from feedback_miner.analyze_file import analyze_file

    try:
        paths = analyze_file(input, out, text_column=text_column, id_column=id_column, time_column=time_column,
                             category_column=category_column, settings=Settings(), min_cluster_size=min_cluster_size)
    except FeedbackMinerError as exc:
        _fail(exc)
        return
    for p in paths:
        typer.echo(f"wrote {p}")


@app.command()
def metrics(
    from_: Annotated[str, typer.Option("--from", help="first day, e.g. 2026-11-01")],
    to: Annotated[str, typer.Option("--to", help="last day (inclusive), e.g. 2026-11-30")],
    by: Annotated[Optional[str], typer.Option(help="group by channel, segment or source")] = None,
    db: DbOpt = None,
) -> None:
    """Print the satisfaction and support metrics table for a period, against targets and the period before."""
    from datetime import timedelta

    from feedback_miner.bootstrap import make_store
    from feedback_miner.periodic import metrics_table, parse_day

    try:
        start, end = parse_day(from_, "--from"), parse_day(to, "--to") + timedelta(days=1)
        typer.echo(metrics_table(make_store(_settings(db)), start, end, by=by))
    except FeedbackMinerError as exc:
        _fail(exc)


@app.command()
def report(
    month: Annotated[Optional[str], typer.Option(help="a month like 2026-11")] = None,
    quarter: Annotated[Optional[str], typer.Option(help="a quarter like 2026-Q4")] = None,
    db: DbOpt = None,
) -> None:
    """Build and store the monthly or quarterly digest (print it with `digest --week 2026-11`)."""
    from feedback_miner.adapters.progress import TqdmProgress
    from feedback_miner.bootstrap import cluster_params, make_classifier, make_embedder, make_store
    from feedback_miner.periodic import run_period

    if bool(month) == bool(quarter):
        _fail(FeedbackMinerError("give exactly one of --month or --quarter"))
    s = _settings(db)
    try:
        clf, _ = make_classifier(s)
        d = run_period(make_store(s), make_embedder(s), clf, kind="month" if month else "quarter",
                       anchor=str(month or quarter), params=cluster_params(s), top_n=s.top_n, progress=TqdmProgress())
    except FeedbackMinerError as exc:
        _fail(exc)
        return
    typer.echo(f"{d['period']}: {d['counts']['analysed']} texts, {d['counts']['problems']} problems; "
               f"print it with `feedback-miner digest --week {d['period']}`")


@app.command()
def train(
    version: Annotated[Optional[str], typer.Option(help="version id; default v<N+1>")] = None,
) -> None:
    """Train a classifier version on the shipped seed examples and promote it."""
    from feedback_miner.adapters.progress import TqdmProgress
    from feedback_miner.bootstrap import make_embedder
    from feedback_miner.training import load_seeds, train_version

    s = Settings()
    texts, labels = load_seeds(s.models_dir / "seeds")
    v, scores = train_version(texts, labels, make_embedder(s), s.models_dir / "classifier", version=version,
                              progress=TqdmProgress())
    typer.echo(f"trained {v} on {len(texts)} seed examples: {json.dumps(scores)[:400]}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="directory for the demo data and digests")] = Path("demo_out"),
    db: DbOpt = None,
    weeks: Annotated[int, typer.Option(help="weeks of demo data")] = 8,
    end_week: Annotated[str, typer.Option(help="last ISO week of the demo stream")] = "2026-W46",
) -> None:
    """Generate the bundled demo stream, ingest it, run every week and write the last digest."""
    from feedback_miner.demo import write_demo_csv
    from feedback_miner.domain.weeks import shift_week

    out.mkdir(parents=True, exist_ok=True)
    db = db or f"sqlite:///{(out / 'demo.db').resolve()}"
    path = out / "demo_feedback.csv"
    n = write_demo_csv(path, weeks=weeks, end_week=end_week)
    typer.echo(f"generated {n} demo rows in {path}")
    ingest(path, db=db, source="demo", mapping=None, column=None, show_errors=10)
    for k in range(weeks - 1, -1, -1):
        run(week=shift_week(end_week, -k), db=db)
    for fmt in ("md", "json", "html"):
        digest(week=end_week, format=fmt, db=db, out=out / f"digest-{end_week}.{fmt}")
    typer.echo(f"weekly digest: {(out / f'digest-{end_week}.md').resolve()}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    db: DbOpt = None,
) -> None:
    """Run the HTTP API (uvicorn) over the store; the model loads once at start-up."""
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(_settings(db)), host=host, port=port, log_level="info")


keys_app = typer.Typer(help="Manage API keys (stored hashed; a new key is printed once).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="ingest, lead, reader or admin")],
    name: Annotated[str, typer.Option(help="who or what uses the key")],
    db: DbOpt = None,
) -> None:
    """Create a key and print it once — it cannot be shown again."""
    from feedback_miner.adapters.keys import create_key
    from feedback_miner.bootstrap import make_store

    try:
        key, rec = create_key(make_store(_settings(db)), role=role, name=name)
    except FeedbackMinerError as exc:
        _fail(exc)
        return
    typer.echo(key)
    typer.echo(f"created key {rec.id} ({rec.prefix}) role={rec.role} name={rec.name!r}; store it now, it is not shown again",
               err=True)


@keys_app.command("list")
def keys_list(db: DbOpt = None) -> None:
    """List keys (id, prefix, role, name, created, revoked) — never the secrets."""
    from feedback_miner.adapters.keys import list_keys
    from feedback_miner.bootstrap import make_store

    try:
        rows = list_keys(make_store(_settings(db)))
    except FeedbackMinerError as exc:
        _fail(exc)
        return
    for k in rows:
        typer.echo(f"{k.id}\t{k.prefix}\t{k.role}\t{k.name}\t{k.created_at:%Y-%m-%d}\t{'revoked' if k.revoked else 'active'}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="key id or prefix")],
    db: DbOpt = None,
) -> None:
    """Revoke a key by id or prefix."""
    from feedback_miner.adapters.keys import revoke_key
    from feedback_miner.bootstrap import make_store

    try:
        k = revoke_key(make_store(_settings(db)), key_id)
    except FeedbackMinerError as exc:
        _fail(exc)
        return
    typer.echo(f"revoked key {k.id} ({k.prefix}) {k.name!r}")


def _register_subcommands() -> None:
    from feedback_miner.cli_model import model_app, retrain
    from feedback_miner.cli_problems import problems_app

    app.add_typer(problems_app, name="problems")
    app.add_typer(model_app, name="model")
    app.command("retrain")(retrain)


_register_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
