"""``feedback-miner model …`` and ``retrain``: classifier versions, retraining from confirmations, rollback."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from feedback_miner.config import Settings
from feedback_miner.errors import FeedbackMinerError

model_app = typer.Typer(help="Classifier versions: list, roll back.", no_args_is_help=True)


def retrain_command(db: str | None = None, weight: float = 5.0) -> dict[str, object]:
    from feedback_miner.adapters.progress import TqdmProgress
    from feedback_miner.adapters.review_store import confirmations
    from feedback_miner.bootstrap import make_classifier, make_embedder, make_store
    from feedback_miner.model_card import update_model_card
    from feedback_miner.training import load_seeds, retrain_with_confirmations

    s = Settings(database_url=db) if db else Settings()
    clf, manifest = make_classifier(s)
    texts, labels = load_seeds(s.models_dir / "seeds")
    result = retrain_with_confirmations(texts, labels, confirmations(make_store(s)), make_embedder(s),
                                        s.models_dir / "classifier", current=clf, current_manifest=manifest,
                                        weight=weight, progress=TqdmProgress())
    update_model_card(s.models_dir)
    return result


def retrain(
    db: Annotated[Optional[str], typer.Option("--db", help="database URL")] = None,
    weight: Annotated[float, typer.Option(help="weight of a confirmation relative to a seed example (5: measured best of 2, 5, 10 in benchmarks/bench_learning.py)")] = 5.0,
) -> None:
    """Train a new classifier version on the seeds plus the leads' confirmations; promote it only if not worse."""
    try:
        result = retrain_command(db, weight)
    except FeedbackMinerError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(result, indent=2))


@model_app.command("list")
def list_cmd() -> None:
    """List classifier versions with their scores; * marks the current one."""
    from feedback_miner.adapters.artefacts import current_version, list_versions, load_classifier

    root = Settings().models_dir / "classifier"
    cur = current_version(root)
    for v in list_versions(root):
        _, m = load_classifier(root, v)
        typer.echo(f"{'*' if v == cur else ' '} {v}  {m['created_at']}  n={m['training']['n_examples']}  "
                   f"seed-CV macro-F1={m['scores'].get('seed_cv_macro_f1')}")


@model_app.command("rollback")
def rollback_cmd(to: Annotated[Optional[str], typer.Option(help="version to make current")] = None) -> None:
    """Make an earlier classifier version current again (default: the one before)."""
    from feedback_miner.model_card import update_model_card
    from feedback_miner.training import rollback

    s = Settings()
    try:
        v = rollback(s.models_dir / "classifier", to)
    except FeedbackMinerError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    update_model_card(s.models_dir)
    typer.echo(f"current classifier is now {v}")
