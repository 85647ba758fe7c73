"""Run lease: the owner (host:pid) and heartbeat of a running run, so a dead run is taken over.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 0001 creates tables as tables.py defines them today, so a fresh store already has the columns.
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("runs")}
    with op.batch_alter_table("runs") as batch:
        if "owner" not in have:
            batch.add_column(sa.Column("owner", sa.String(160)))
        if "heartbeat_at" not in have:
            batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("owner")
