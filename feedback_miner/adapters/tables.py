"""SQL schema (SQLAlchemy Core). Changes go through Alembic migrations in ``migrations/``."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "api_keys",
    "app_secrets",
    "auth_failures",
    "digests",
    "embeddings",
    "feedback",
    "metadata",
    "predictions",
    "problem_events",
    "problem_members",
    "problem_weeks",
    "problems",
    "reviews",
    "runs",
]

metadata = MetaData()

feedback = Table(
    "feedback", metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(64), nullable=False),
    Column("external_id", String(128), nullable=False),
    Column("text", Text, nullable=False),
    Column("text_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("week", String(8), nullable=False),
    Column("channel", String(32)), Column("segment", String(32)), Column("customer_id", String(128)),
    Column("rating", Integer), Column("nps", Integer), Column("ces", Integer), Column("satisfaction", String(8)),
    Column("device", String(128)), Column("browser", String(64)), Column("app_version", String(32)),
    Column("ticket_status", String(16)),
    Column("opened_at", DateTime(timezone=True)), Column("first_response_at", DateTime(timezone=True)),
    Column("resolved_at", DateTime(timezone=True)),
    Column("first_contact_resolution", Boolean), Column("escalated", Boolean),
    Column("given_category", String(32)),
    Column("role", String(8)), Column("handle_minutes", Float),  # 0003
    Column("confirmed_category", String(32)), Column("confirmed_secondary", String(32)),
    Column("ingested_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("source_updated_at", DateTime(timezone=True)),  # the ticket's own updated time (webhooks), UTC
    UniqueConstraint("source", "external_id", name="uq_feedback_source_external"),
    Index("ix_feedback_week", "week"),
)

embeddings = Table(
    "embeddings", metadata,
    Column("model_id", String(64), primary_key=True),
    Column("text_hash", String(64), primary_key=True),
    Column("vector", LargeBinary, nullable=False),
)

predictions = Table(
    "predictions", metadata,
    Column("feedback_id", Integer, ForeignKey("feedback.id", ondelete="CASCADE"), primary_key=True),
    Column("classifier_version", String(64), nullable=False),
    Column("category", String(32), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("secondary_category", String(32)),
    Column("predicted_at", DateTime(timezone=True), nullable=False),
)

reviews = Table(
    "reviews", metadata,
    Column("id", Integer, primary_key=True),
    Column("feedback_id", Integer, ForeignKey("feedback.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("reviewer", String(128), nullable=False),
    Column("old_category", String(32)), Column("new_category", String(32), nullable=False),
    Column("old_secondary", String(32)), Column("new_secondary", String(32)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

problems = Table(
    "problems", metadata,
    Column("id", String(64), primary_key=True),
    Column("category", String(32), nullable=False),
    Column("title", String(200), nullable=False),
    Column("title_locked", Boolean, nullable=False, default=False),
    Column("keywords", Text, nullable=False, default="[]"),
    Column("centroid", LargeBinary, nullable=False),
    Column("first_week", String(8), nullable=False),
    Column("last_week", String(8), nullable=False),
    Column("merged_into", String(64)),
    Column("fixed_week", String(8)), Column("fixed_at", DateTime(timezone=True)),
    Column("fixed_by", String(128)), Column("fix_link", String(500)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

problem_weeks = Table(
    "problem_weeks", metadata,
    Column("problem_id", String(64), ForeignKey("problems.id"), primary_key=True),
    Column("week", String(8), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("severity", Float, nullable=False), Column("priority", Float, nullable=False),
    Column("status", String(16)), Column("detail", Text, nullable=False, default="{}"),
)

problem_members = Table(
    "problem_members", metadata,
    Column("week", String(8), primary_key=True),
    Column("feedback_id", Integer, ForeignKey("feedback.id", ondelete="CASCADE"), primary_key=True),
    Column("problem_id", String(64), ForeignKey("problems.id"), nullable=False, index=True),
)

problem_events = Table(
    "problem_events", metadata,
    Column("id", Integer, primary_key=True),
    Column("problem_id", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("week", String(8)), Column("detail", Text, nullable=False, default="{}"),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True),
    Column("week", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("error", Text), Column("stats", Text, nullable=False, default="{}"),
    Column("owner", String(160)), Column("heartbeat_at", DateTime(timezone=True)),  # the run's lease (0002)
)

digests = Table(
    "digests", metadata,
    Column("period", String(16), primary_key=True),
    Column("body", Text, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id")),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("prefix", String(16), nullable=False, index=True),
    Column("key_hash", String(128), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

auth_failures = Table(  # failed key checks per client, in fixed windows (api/ratelimit.py)
    "auth_failures", metadata,
    Column("bucket", String(200), primary_key=True),
    Column("window_start", Float, nullable=False),  # epoch seconds
    Column("failures", Integer, nullable=False),
)

app_secrets = Table(  # secrets every server process must share, e.g. the page-session key (0005)
    "app_secrets", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(256), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
