"""Webhook ordering and auth rate limits: feedback.source_updated_at, table auth_failures.

Revision 0001 creates the schema from tables.py as it is now, so on a fresh database both exist
already; this revision adds them to databases created before it.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from feedback_miner.adapters.tables import auth_failures

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    insp = sa.inspect(bind)
    if "source_updated_at" not in {c["name"] for c in insp.get_columns("feedback")}:
        with op.batch_alter_table("feedback") as batch:
            batch.add_column(sa.Column("source_updated_at", sa.DateTime(timezone=True), nullable=True))
    if not insp.has_table("auth_failures"):
        auth_failures.create(bind)


def downgrade() -> None:
    op.drop_table("auth_failures")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("source_updated_at")
