"""``feedback-miner embed``: embed (and classify) the backlog in the store, locally or on a Dask cluster."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from feedback_miner.cli.app import DbOpt, SchedulerOpt, app, fail, handled, progress, settings

if TYPE_CHECKING:
    from feedback_miner.services.backlog import BacklogReport

__all__ = ["embed"]


@app.command()
def embed(
    scheduler: SchedulerOpt = None,
    classify: Annotated[bool, typer.Option("--classify/--no-classify",
                                           help="also predict a category for rows without one")] = True,
    chunk: Annotated[int, typer.Option(help="texts per chunk; each chunk is stored before the next")] = 4096,
    follow: Annotated[bool, typer.Option("--follow", help="keep going: embed feedback as it arrives (Ctrl-C stops)")] = False,
    interval: Annotated[float, typer.Option(help="with --follow: seconds to wait when nothing is new")] = 10.0,
    db: DbOpt = None,
) -> None:
    """Embed every stored text without a cached vector for the configured model (and classify them).

    With --follow it keeps embedding and classifying feedback as it arrives, so the weekly run only
    clusters, scores and writes."""
    from feedback_miner.adapters.backlog_sql import SqlBacklog
    from feedback_miner.bootstrap import Container
    from feedback_miner.services.backlog import follow_backlog, run_backlog

    if chunk < 1:
        fail(f"--chunk must be a positive number of texts, got {chunk}")
    if interval <= 0:
        fail(f"--interval must be a positive number of seconds, got {interval}")
    with handled():  # a bad FM_* value is named like in every other command
        s = settings(db, scheduler)
        c = Container(s)
        backlog = SqlBacklog(c.store)
        if s.dask_scheduler:
            from feedback_miner.adapters.distributed.embedder import make_dask_embedder

            embedder = make_dask_embedder(s)
        else:
            embedder = c.embedder()
        clf, version = None, None
        if classify:
            clf, manifest = c.classifier()
            version = str(manifest["version"])
        try:
            if follow:
                def echo(r: BacklogReport) -> None:
                    if r.rows_embedded or r.rows_classified:
                        typer.echo(_summary(r, s.dask_scheduler))

                typer.echo(f"following the store (every {interval:g} s when idle); Ctrl-C stops")
                try:
                    follow_backlog(backlog, embedder, clf, classifier_version=version, interval_s=interval,
                                   chunk_size=chunk, on_pass=echo)
                except KeyboardInterrupt:
                    typer.echo("stopped")
                return
            rep = run_backlog(backlog, embedder, clf, classifier_version=version, chunk_size=chunk,
                              progress=progress())
        finally:
            close = getattr(embedder, "close", None)
            if callable(close):
                close()
    typer.echo(_summary(rep, s.dask_scheduler))


def _summary(rep: BacklogReport, scheduler: str | None) -> str:
    where = f"on the Dask cluster at {scheduler}" if scheduler else "in this process"
    return (f"embedded {rep.texts_embedded} new texts ({rep.rows_embedded} rows) with {rep.model_id} {where}"
            + (f"; classified {rep.rows_classified} rows with classifier {rep.classifier_version}"
               if rep.classifier_version else ""))
