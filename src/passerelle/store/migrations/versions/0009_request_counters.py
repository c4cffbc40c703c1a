"""Request-rate counters shared by every process: one row per rate-limited login, the
count of its current fixed window (`core.ratelimit.request_window`). Nothing in it
needs to survive a crash: on PostgreSQL the table is UNLOGGED (no WAL).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    unlogged = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "request_counters",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("start", sa.Float, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        prefixes=["UNLOGGED"] if unlogged else [],
    )


def downgrade() -> None:
    op.drop_table("request_counters")
