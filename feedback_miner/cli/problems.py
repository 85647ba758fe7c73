"""``feedback-miner problems fix | rename | followup``: act on recurring problems."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer

from feedback_miner.cli.app import DbOpt, app, container, handled

__all__ = ["problems_app"]

problems_app = typer.Typer(help="Manage recurring problems: mark fixed, rename, list who to follow up with.", no_args_is_help=True)
app.add_typer(problems_app, name="problems")


@problems_app.command("fix")
def fix(
    problem_id: Annotated[str, typer.Argument(help="problem id, e.g. payment-003")],
    week: Annotated[str, typer.Option(help="ISO week the fix shipped")],
    link: Annotated[str | None, typer.Option(help="link to the dev ticket")] = None,
    by: Annotated[str | None, typer.Option(help="who marks it fixed")] = None,
    db: DbOpt = None,
) -> None:
    """Mark a problem fixed; later digests watch it until the fix holds or it resurfaces."""
    from feedback_miner.adapters.registry_store import mark_fixed

    with handled():
        pid = mark_fixed(container(db).store, problem_id, week=week, by=by or getpass.getuser(), link=link)
    typer.echo(f"{pid} marked fixed in {week}")


@problems_app.command("rename")
def rename_cmd(
    problem_id: Annotated[str, typer.Argument(help="problem id")],
    title: Annotated[str, typer.Argument(help="new title; it sticks across weeks")],
    by: Annotated[str | None, typer.Option(help="who renames it")] = None,
    db: DbOpt = None,
) -> None:
    """Rename a problem; the name sticks in later runs."""
    from feedback_miner.adapters.registry_store import rename

    with handled():
        pid = rename(container(db).store, problem_id, title, by=by or getpass.getuser())
    typer.echo(f"{pid} renamed to {title!r}")


@problems_app.command("followup")
def followup(
    problem_id: Annotated[str, typer.Argument(help="problem id, e.g. payment-003 (merged ids are followed)")],
    out: Annotated[Path | None, typer.Option(help="write the CSV here instead of stdout")] = None,
    db: DbOpt = None,
) -> None:
    """The follow-up survey list: one CSV row per customer who reported the problem (ids as stored:
    redacted or pseudonymised), with their earliest and latest report, count, weeks and tickets."""
    from feedback_miner.adapters.followup_store import SqlFollowupReader
    from feedback_miner.services.followup import followup_list, to_csv

    with handled():
        fl = followup_list(SqlFollowupReader(container(db).store), problem_id)
    text = to_csv(fl)
    head = fl.problem_id if fl.problem_id == problem_id else f"{problem_id} (merged into {fl.problem_id})"
    fixed = f"fixed in {fl.fixed_week}" if fl.fixed_week else "not marked fixed"
    note = f"{head}, {fixed}: {len(fl.reporters)} customers or tickets, {fl.reports} reports"
    if out:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"{note}; wrote {out}")
    else:
        sys.stdout.write(text)
        typer.echo(note, err=True)
