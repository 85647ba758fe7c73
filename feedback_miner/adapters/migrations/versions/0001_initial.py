"""Initial schema: feedback, embeddings, predictions, reviews, problems, runs, digests, api keys.

Revision ID: 0001
Revises:
"""

from alembic import op

from feedback_miner.adapters.tables import metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The first revision creates the schema as tables.py defined it at this revision.
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata.drop_all(op.get_bind())
