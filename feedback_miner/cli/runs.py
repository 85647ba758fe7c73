"""``feedback-miner run | digest | report | metrics | demo | serve``: the weekly run and its outputs."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from feedback_miner.cli.app import DbOpt, SchedulerOpt, app, container, fail, handled, progress, settings
from feedback_miner.cli.ingest import ingest_file

if TYPE_CHECKING:
    from feedback_miner.bootstrap import Container

__all__ = ["demo", "digest", "metrics", "report", "run", "serve"]

WeekOpt = Annotated[str | None, typer.Option(help="ISO week like 2026-W47; default the last complete week")]


def _week(week: str | None) -> str:
    """The ``--week`` value checked before anything is loaded (default: the last complete week)."""
    from feedback_miner.domain.weeks import last_complete_week, week_bounds

    if week is None:
        return last_complete_week(datetime.now(UTC))
    week_bounds(week)  # InputError naming the expected form
    return week.upper()


def run_one(c: Container, week: str) -> None:
    from feedback_miner.services.weekly import run_week

    store = c.store
    if not store.feedback_in_weeks([week]):
        fail(f"no feedback stored for week {week}; ingest some first: feedback-miner ingest FILE "
             f"(weeks with feedback: {', '.join(sorted(store.week_totals())[-6:]) or 'none'})")
    clf, manifest = c.classifier()
    d = run_week(store, c.embedder(), clf, week=week, classifier_version=str(manifest["version"]),
                 options=c.run_options, progress=progress())
    n = d.counts
    typer.echo(f"{week}: {n['analysed']} texts, {n['problems']} problems, {n['other']} other, "
               f"{n['unclustered']} unclustered")


@app.command()
def run(week: WeekOpt = None, db: DbOpt = None, scheduler: SchedulerOpt = None) -> None:
    """Embed what is new, classify, cluster, score and store the week's digest."""
    with handled():
        run_one(container(db, scheduler), _week(week))


def write_digest(c: Container, period: str, fmt: str, out: Path | None) -> None:
    from feedback_miner.adapters.render import FORMATS, render_digest
    from feedback_miner.stages.digest import Digest

    if fmt not in FORMATS:
        fail(f"--format {fmt!r} must be one of {', '.join(FORMATS)}")
    from feedback_miner.domain.metrics import period_bounds
    from feedback_miner.errors import InputError

    try:  # a period that cannot exist gets no suggestion to build it (it would not run either)
        period_bounds("week" if "-W" in period else "quarter" if "-Q" in period else "month", period)
    except InputError:
        fail(f"--week {period!r} is not an ISO week (2026-W47), a month (2026-11) or a quarter (2026-Q4)")
    body = c.store.get_digest(period)
    if body is None:
        hint = (f"feedback-miner run --week {period}" if "-W" in period else
                f"feedback-miner report --{'quarter' if '-Q' in period else 'month'} {period}")
        fail(f"no digest for {period}: build it first with `{hint}`")
    text = render_digest(Digest.from_dict(body), fmt)
    if out:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")
    else:
        sys.stdout.write(text + "\n")


@app.command()
def digest(
    week: Annotated[str, typer.Option(help="ISO week like 2026-W47, or a month (2026-11) / quarter (2026-Q4) report")],
    format: Annotated[str, typer.Option("--format", help="md, json or html")] = "md",
    db: DbOpt = None,
    out: Annotated[Path | None, typer.Option(help="write to this file instead of stdout")] = None,
) -> None:
    """Print a stored weekly digest (or a monthly/quarterly report)."""
    with handled():
        write_digest(container(db), week.upper(), format, out)


@app.command()
def metrics(
    from_: Annotated[str, typer.Option("--from", help="first day, e.g. 2026-11-01")],
    to: Annotated[str, typer.Option("--to", help="last day (inclusive), e.g. 2026-11-30")],
    by: Annotated[str | None, typer.Option(help="group by channel, segment or source")] = None,
    db: DbOpt = None,
) -> None:
    """Print the satisfaction and support metrics table for a period, against targets and the period before."""
    from feedback_miner.services.periodic import metrics_table, parse_day

    with handled():
        start, end = parse_day(from_, "--from"), parse_day(to, "--to") + timedelta(days=1)
        typer.echo(metrics_table(container(db).store, start, end, by=by))


@app.command()
def report(
    month: Annotated[str | None, typer.Option(help="a month like 2026-11")] = None,
    quarter: Annotated[str | None, typer.Option(help="a quarter like 2026-Q4")] = None,
    db: DbOpt = None,
) -> None:
    """Build and store the monthly or quarterly digest (print it with `digest --week 2026-11`)."""
    from feedback_miner.domain.metrics import period_bounds
    from feedback_miner.services.periodic import run_period

    if bool(month) == bool(quarter):
        fail("give exactly one of --month or --quarter")
    kind, anchor = ("month", str(month)) if month else ("quarter", str(quarter))
    with handled():
        period_bounds(kind, anchor)  # validates before the model loads
        c = container(db)
        clf, _ = c.classifier()
        d = run_period(c.store, c.embedder(), clf, kind=kind, anchor=anchor, params=c.run_options.params,
                       top_n=c.settings.top_n, progress=progress(), targets=c.settings.metric_targets)
    typer.echo(f"{d.period}: {d.counts['analysed']} texts, {d.counts['problems']} problems; "
               f"print it with `feedback-miner digest --week {d.period}`")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="directory for the demo data and digests")] = Path("demo_out"),
    db: DbOpt = None,
    weeks: Annotated[int, typer.Option(help="weeks of demo data")] = 8,
    end_week: Annotated[str, typer.Option(help="last ISO week of the demo stream")] = "2026-W46",
) -> None:
    """Generate the bundled demo stream, ingest it, run every week and write the last digest."""
    from feedback_miner.demo.generate import write_demo_csv
    from feedback_miner.domain.weeks import shift_week

    with handled():
        end_week = _week(end_week)
        out.mkdir(parents=True, exist_ok=True)
        c = container(db or f"sqlite:///{(out / 'demo.db').resolve()}")
        path = out / "demo_feedback.csv"
        n = write_demo_csv(path, weeks=weeks, end_week=end_week)
        typer.echo(f"generated {n} demo rows in {path}")
        ingest_file(c, path, source="demo", mapping=None, column=None, show_errors=10)
        for k in range(weeks - 1, -1, -1):
            run_one(c, shift_week(end_week, -k))
        for fmt in ("md", "json", "html"):
            write_digest(c, end_week, fmt, out / f"digest-{end_week}.{fmt}")
    typer.echo(f"weekly digest: {(out / f'digest-{end_week}.md').resolve()}")


WorkersOpt = Annotated[int, typer.Option(
    min=1, max=64,
    help="worker processes (uvicorn), each loading the model once; several workers are meant for a PostgreSQL "
         "store (a SQLite file works, but its writers queue on one lock). Set FM_SESSION_SECRET so page sessions "
         "do not depend on the store's generated secret; state shared by workers lives in the store")]


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    db: DbOpt = None,
    workers: WorkersOpt = 1,
) -> None:
    """Run the HTTP API (uvicorn) over the store; the model loads once at start-up, in each worker."""
    import os

    import uvicorn

    from api.app import create_app, prepare_store

    with handled():
        s = settings(db)
        prepare_store(s)  # migrations and the shared session secret, once, before any worker starts
    if workers == 1:
        uvicorn.run(create_app(s), host=host, port=port, log_level="info")
        return
    if s.database_url.startswith("sqlite"):
        typer.secho(f"note: {workers} workers on a SQLite file: reads scale, writes queue on the file's lock; "
                    "use PostgreSQL (--db postgresql+psycopg://...) for several workers in production", err=True)
    # Each worker is a fresh process (spawned) that builds its own app from the environment.
    os.environ["FM_DATABASE_URL"] = s.database_url
    uvicorn.run("api.app:create_app_from_env", factory=True, workers=workers, host=host, port=port,
                log_level="info")
