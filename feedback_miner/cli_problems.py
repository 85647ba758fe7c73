"""``feedback-miner problems …``: mark a problem fixed, rename it."""

from __future__ import annotations

import getpass
from typing import Annotated, Optional

import typer

from feedback_miner.config import Settings
from feedback_miner.errors import FeedbackMinerError

problems_app = typer.Typer(help="Manage recurring problems: mark fixed, rename.", no_args_is_help=True)


def _store(db: str | None):  # type: ignore[no-untyped-def]
    from feedback_miner.bootstrap import make_store

    return make_store(Settings(database_url=db) if db else Settings())


@problems_app.command("fix")
def fix(
    problem_id: Annotated[str, typer.Argument(help="problem id, e.g. payment-003")],
    week: Annotated[str, typer.Option(help="ISO week the fix shipped")],
    link: Annotated[Optional[str], typer.Option(help="link to the dev ticket")] = None,
    by: Annotated[Optional[str], typer.Option(help="who marks it fixed")] = None,
    db: Annotated[Optional[str], typer.Option("--db", help="database URL")] = None,
) -> None:
    """Mark a problem fixed; later digests watch it until the fix holds or it resurfaces."""
    from feedback_miner.adapters.registry_store import mark_fixed

    try:
        pid = mark_fixed(_store(db), problem_id, week=week, by=by or getpass.getuser(), link=link)
    except FeedbackMinerError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{pid} marked fixed in {week}")


@problems_app.command("rename")
def rename_cmd(
    problem_id: Annotated[str, typer.Argument(help="problem id")],
    title: Annotated[str, typer.Argument(help="new title; it sticks across weeks")],
    by: Annotated[Optional[str], typer.Option(help="who renames it")] = None,
    db: Annotated[Optional[str], typer.Option("--db", help="database URL")] = None,
) -> None:
    """Rename a problem; the name sticks in later runs."""
    from feedback_miner.adapters.registry_store import rename

    try:
        pid = rename(_store(db), problem_id, title, by=by or getpass.getuser())
    except FeedbackMinerError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{pid} renamed to {title!r}")
