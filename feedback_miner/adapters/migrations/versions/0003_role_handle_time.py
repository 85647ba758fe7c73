"""Feedback role (buyer or seller) and handle time, for AHT and the per-side messaging target.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 0001 creates tables as tables.py defines them today, so a fresh store already has the columns.
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("feedback")}
    with op.batch_alter_table("feedback") as batch:
        if "role" not in have:
            batch.add_column(sa.Column("role", sa.String(8)))
        if "handle_minutes" not in have:
            batch.add_column(sa.Column("handle_minutes", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("handle_minutes")
        batch.drop_column("role")
