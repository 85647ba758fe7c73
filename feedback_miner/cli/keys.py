"""``feedback-miner keys create | list | revoke``: API keys, stored hashed."""

from __future__ import annotations

from typing import Annotated

import typer

from feedback_miner.cli.app import DbOpt, app, container, handled

__all__ = ["keys_app"]

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

    with handled():
        key, rec = create_key(container(db).store, role=role, name=name)
    typer.echo(key)
    typer.echo(f"created key {rec.id} ({rec.prefix}) role={rec.role} name={rec.name!r}; store it now, it is not shown again",
               err=True)


@keys_app.command("list")
def keys_list(db: DbOpt = None) -> None:
    """List keys (id, prefix, role, name, created, revoked) — never the secrets."""
    from feedback_miner.adapters.keys import list_keys

    with handled():
        rows = list_keys(container(db).store)
    for k in rows:
        typer.echo(f"{k.id}\t{k.prefix}\t{k.role}\t{k.name}\t{k.created_at:%Y-%m-%d}\t{'revoked' if k.revoked else 'active'}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="key id or prefix")],
    db: DbOpt = None,
) -> None:
    """Revoke a key by id or prefix."""
    from feedback_miner.adapters.keys import revoke_key

    with handled():
        k = revoke_key(container(db).store, key_id)
    typer.echo(f"revoked key {k.id} ({k.prefix}) {k.name!r}")
