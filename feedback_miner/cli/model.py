"""``feedback-miner train | retrain | model list | model rollback``: classifier versions."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from feedback_miner.cli.app import DbOpt, app, container, handled, progress

__all__ = ["model_app", "retrain", "train"]

model_app = typer.Typer(help="Classifier versions: list, roll back.", no_args_is_help=True)
app.add_typer(model_app, name="model")


@app.command()
def train() -> None:
    """Train a classifier version on the shipped seed examples and promote it."""
    from feedback_miner.services.model_ops import train_on_seeds

    with handled():
        c = container()
        v, scores = train_on_seeds(c.settings.models_dir, c.embedder(), progress=progress())
    typer.echo(f"trained {v}: seed-CV macro-F1 {scores['seed_cv_macro_f1']}")


@app.command()
def retrain(
    db: DbOpt = None,
    weight: Annotated[float, typer.Option(help="weight of a confirmation relative to a seed example (5: measured best of 2, 5, 10 in benchmarks/bench_learning.py)")] = 5.0,
) -> None:
    """Train a new classifier version on the seeds plus the leads' confirmations; promote it only if not worse."""
    from feedback_miner.adapters.review_store import confirmations
    from feedback_miner.services.model_ops import retrain as do_retrain

    with handled():
        c = container(db)
        result = do_retrain(c.settings.models_dir, c.embedder(), confirmations(c.store),
                            current_version=c.settings.classifier_version, weight=weight, progress=progress())
    typer.echo(json.dumps(result, indent=2))


@model_app.command("list")
def list_cmd() -> None:
    """List classifier versions with their scores; * marks the current one."""
    from feedback_miner.adapters.artefacts import current_version, list_versions, load_classifier

    with handled():
        root = container().settings.models_dir / "classifier"
        cur = current_version(root)
        for v in list_versions(root):
            _, m = load_classifier(root, v)
            typer.echo(f"{'*' if v == cur else ' '} {v}  {m['created_at']}  n={m['training']['n_examples']}  "
                       f"seed-CV macro-F1={m['scores'].get('seed_cv_macro_f1')}")


@model_app.command("rollback")
def rollback_cmd(to: Annotated[str | None, typer.Option(help="version to make current")] = None) -> None:
    """Make an earlier classifier version current again (default: the one before)."""
    from feedback_miner.services.model_ops import roll_back

    with handled():
        v = roll_back(container().settings.models_dir, to)
    typer.echo(f"current classifier is now {v}")
