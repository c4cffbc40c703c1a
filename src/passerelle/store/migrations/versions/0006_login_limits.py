"""Failed-login limits shared by every process: counters per login and per client
address (counted when a verification starts), and the addresses each login last
succeeded from (not locked out by someone else's failures).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_counters",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("start", sa.Float, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_index("login_counters_start", "login_counters", ["start"])
    op.create_index("login_counters_count", "login_counters", ["count", "start"])
    op.create_table(
        "login_known",
        sa.Column("login", sa.String(64), primary_key=True),
        sa.Column("address", sa.String(64), primary_key=True),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("login_known_at", "login_known", ["at"])


def downgrade() -> None:
    op.drop_table("login_known")
    op.drop_table("login_counters")
