"""Secrets shared by every server process: table app_secrets (the generated page-session key).

Revision 0001 creates the schema from tables.py as it is now, so on a fresh database the table
exists already; this revision adds it to databases created before it.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from feedback_miner.adapters.tables import app_secrets

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("app_secrets"):
        app_secrets.create(bind)


def downgrade() -> None:
    op.drop_table("app_secrets")
