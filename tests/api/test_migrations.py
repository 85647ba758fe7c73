"""Migrations upgrade a store created before them: from 0001 (the first schema) to the newest revision,
adding the run lease, role and handle time, the ticket-order column, the auth-failure table and the
shared-secrets table."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from feedback_miner.adapters.store import open_store


def test_an_0001_store_gains_what_later_revisions_add(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    open_store(url).engine.dispose()
    eng = create_engine(url)
    with eng.begin() as c:  # make it look like a store last migrated by 0001
        c.execute(text("ALTER TABLE feedback DROP COLUMN source_updated_at"))
        c.execute(text("ALTER TABLE feedback DROP COLUMN role"))
        c.execute(text("ALTER TABLE feedback DROP COLUMN handle_minutes"))
        c.execute(text("ALTER TABLE runs DROP COLUMN owner"))
        c.execute(text("ALTER TABLE runs DROP COLUMN heartbeat_at"))
        c.execute(text("DROP TABLE auth_failures"))
        c.execute(text("DROP TABLE app_secrets"))
        c.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    eng.dispose()
    store = open_store(url)
    insp = inspect(store.engine)
    assert {"source_updated_at", "role", "handle_minutes"} <= {c["name"] for c in insp.get_columns("feedback")}
    assert {"owner", "heartbeat_at"} <= {c["name"] for c in insp.get_columns("runs")}
    assert insp.has_table("auth_failures") and insp.has_table("app_secrets")
    with store.tx() as c:
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0005"
    open_store(url)  # and opening it again is a no-op
