"""``feedback-miner deliver | schedule``: send the weekly digest out, and run the week on a timer."""

from __future__ import annotations

import signal
import time as _time
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

from feedback_miner.cli.app import DbOpt, app, fail, handled, progress, settings
from feedback_miner.errors import ConfigError, FeedbackMinerError, NotFoundError

if TYPE_CHECKING:
    from feedback_miner.bootstrap import Container
    from feedback_miner.services.delivery import DeliveryResult, StopFlag

__all__ = ["deliver", "deliver_week", "run_and_deliver", "schedule"]

WeekOpt = Annotated[str | None, typer.Option(help="ISO week like 2026-W47; default the last complete week")]


def _container(db: str | None) -> Container:
    """The invocation's container; a bad ``FM_*`` value is a clear error naming the variable."""
    from feedback_miner.bootstrap import Container

    try:
        return Container(settings(db))
    except ValidationError as exc:
        bad = "; ".join(f"FM_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors())
        fail(ConfigError(f"invalid setting — {bad}"))


def _week(week: str | None) -> str:
    from feedback_miner.cli.runs import _week as checked

    return checked(week)


def deliver_week(c: Container, week: str, *, dry_run: bool = False) -> list[DeliveryResult]:
    """Send the stored digest of ``week`` to every configured channel (``dry_run``: print it)."""
    from feedback_miner.adapters.notify import channels_from_settings
    from feedback_miner.services.delivery import compose
    from feedback_miner.services.delivery import deliver as send_all
    from feedback_miner.stages.digest import Digest

    channels = [] if dry_run else channels_from_settings(c.settings)  # ConfigError before any work
    body = c.store.get_digest(week)
    if body is None:
        raise NotFoundError(f"no digest for {week}: build it first with `feedback-miner run --week {week}`")
    message = compose(Digest.from_dict(body), public_url=c.settings.public_url)
    if dry_run:
        typer.echo(message.text)
        return []
    return send_all(message, channels)


def _report(results: list[DeliveryResult]) -> bool:
    for r in results:
        if r.ok:
            typer.echo(f"sent: {r.detail}")
        else:
            typer.secho(f"error: {r.detail}", fg="red", err=True)
    return all(r.ok for r in results)


@app.command("deliver")
def deliver(
    week: WeekOpt = None,
    db: DbOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the summary; send nothing")] = False,
) -> None:
    """Send the week's stored digest to Slack (FM_SLACK_WEBHOOK_URL) and/or by e-mail (FM_SMTP_*)."""
    with handled():
        w = _week(week)
        ok = _report(deliver_week(_container(db), w, dry_run=dry_run))
    if not ok:
        raise typer.Exit(2)


def run_and_deliver(c: Container, week: str, *, send: bool = True) -> bool:
    """One scheduled cycle: run ``week``, then deliver its digest. Errors are printed; True if all went well."""
    from feedback_miner.services.weekly import run_week

    try:
        clf, manifest = c.classifier()
        d = run_week(c.store, c.embedder(), clf, week=week, classifier_version=str(manifest["version"]),
                     options=c.run_options, progress=progress())
    except FeedbackMinerError as exc:
        typer.secho(f"error: run {week}: {exc}", fg="red", err=True)
        return False
    n = d.counts
    typer.echo(f"{week}: {n['analysed']} texts, {n['problems']} problems, {n['other']} other, "
               f"{n['unclustered']} unclustered")
    if not send:
        return True
    try:
        return _report(deliver_week(c, week))
    except FeedbackMinerError as exc:
        typer.secho(f"error: deliver {week}: {exc}", fg="red", err=True)
        return False


def _install_stop() -> StopFlag:
    from feedback_miner.services.delivery import StopFlag

    flag = StopFlag()

    def on_signal(signum: int, _: FrameType | None) -> None:
        if flag.stopped:  # a second signal: stop now (a run in progress rolls back)
            raise KeyboardInterrupt
        flag.set()
        typer.echo(f"{signal.Signals(signum).name}: stopping after the current step", err=True)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return flag


@app.command()
def schedule(
    once: Annotated[bool, typer.Option("--once", help="one cycle now (for cron or a systemd timer), then exit")] = False,
    week: Annotated[str | None, typer.Option(help="with --once: the week to run (default the last complete week)")]
    = None,
    no_deliver: Annotated[bool, typer.Option("--no-deliver", help="run the week only; send nothing")] = False,
    db: DbOpt = None,
) -> None:
    """Every Monday at FM_SCHEDULE_TIME (UTC) run the last complete week and deliver its digest."""
    from feedback_miner.adapters.notify import channels_from_settings
    from feedback_miner.domain.weeks import last_complete_week
    from feedback_miner.services.delivery import parse_time_of_day, run_schedule

    if week and not once:
        fail("--week only goes with --once")
    with handled():
        c = _container(db)
        at = parse_time_of_day(c.settings.schedule_time)
        if not no_deliver:
            channels_from_settings(c.settings)  # a missing channel is an error now, not next Monday
        if once:
            if not run_and_deliver(c, _week(week), send=not no_deliver):
                raise typer.Exit(2)
            return
    flag = _install_stop()

    def announce(due: datetime) -> None:
        typer.echo(f"next run: {due.isoformat()} (week {last_complete_week(due)})")

    def cycle(due: datetime) -> None:
        run_and_deliver(c, last_complete_week(due), send=not no_deliver)

    run_schedule(cycle, at, flag, clock=lambda: datetime.now(UTC), sleep=_time.sleep, announce=announce)
    typer.echo("schedule stopped")
