"""Delivery-receipt callbacks: the event outbox and the attempt log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callback_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("msgid", sa.BigInteger, nullable=False),
        sa.Column("dest", sa.String(15), nullable=False),
        sa.Column("statut", sa.SmallInteger, nullable=False),
        sa.Column("stat", sa.String(16), nullable=False),
        sa.Column("err", sa.String(16), nullable=True),
        sa.Column("occurred_at", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("state", sa.SmallInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("claimed_until", sa.Float, nullable=True),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("delivered_at", sa.Float, nullable=True),
    )
    op.create_index("callback_events_due", "callback_events", ["state", "next_attempt_at"])
    op.create_index("callback_events_account", "callback_events", ["account_id", "id"])
    op.create_table(
        "callback_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("event_id", sa.Integer, sa.ForeignKey("callback_events.id"), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("callback_attempts_event", "callback_attempts", ["event_id"])


def downgrade() -> None:
    op.drop_table("callback_attempts")
    op.drop_table("callback_events")
