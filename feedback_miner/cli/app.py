"""The Typer application and what every command shares: one ``Settings`` and one
:class:`~feedback_miner.bootstrap.Container` per invocation, one error wrapper, progress on stderr."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from feedback_miner.config import Settings
from feedback_miner.errors import FeedbackMinerError

if TYPE_CHECKING:
    from feedback_miner.adapters.progress import TqdmProgress
    from feedback_miner.bootstrap import Container

__all__ = ["DbOpt", "SchedulerOpt", "app", "container", "fail", "handled", "progress", "settings"]

app = typer.Typer(help="Feedback Miner: turn customer feedback into the short list of problems to fix next.",
                  no_args_is_help=True, add_completion=False)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="also show the libraries' own progress "
                                                                         "bars, warnings and logs")] = False) -> None:
    """Feedback Miner: turn customer feedback into the short list of problems to fix next."""
    if verbose:
        import logging
        import os

        os.environ["FM_VERBOSE"] = "1"  # read by Settings, so every collaborator built later sees it
        logging.basicConfig(level=logging.INFO)

DbOpt = Annotated[str | None, typer.Option(
    "--db", help="SQLAlchemy database URL (env FM_DATABASE_URL); default sqlite:///feedback_miner.db")]


SchedulerOpt = Annotated[str | None, typer.Option(
    "--scheduler", help="Dask scheduler address (tcp://host:8786) to embed on (env FM_DASK_SCHEDULER)")]


def settings(db: str | None = None, scheduler: str | None = None) -> Settings:
    """The invocation's settings: the environment (``FM_*``), with ``--db`` / ``--scheduler`` over it."""
    over: dict[str, str] = {}
    if db:
        over["database_url"] = db
    if scheduler:
        over["dask_scheduler"] = scheduler
    return Settings(**over)  # type: ignore[arg-type]


def container(db: str | None = None, scheduler: str | None = None) -> Container:
    """The invocation's collaborators (built lazily: a command that fails validation loads nothing)."""
    from feedback_miner.bootstrap import Container

    return Container(settings(db, scheduler))


def fail(exc: Exception | str) -> NoReturn:
    """Print the error on stderr and exit with status 2."""
    typer.secho(f"error: {exc}", fg="red", err=True)
    raise typer.Exit(2)


@contextmanager
def handled() -> Iterator[None]:
    """Turn a library error into :func:`fail` (the one error wrapper of the CLI)."""
    try:
        yield
    except FeedbackMinerError as exc:
        fail(exc)


def progress() -> TqdmProgress:
    from feedback_miner.adapters.progress import TqdmProgress

    return TqdmProgress()
