"""Delivery: connectors, routes, receipts that arrive before their submit_sm_resp.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connectors",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("system_id", sa.String(16), nullable=False),
        sa.Column("password", sa.String(9), nullable=False),
        sa.Column("system_type", sa.String(13), nullable=False, server_default=""),
        sa.Column("bind_mode", sa.String(8), nullable=False, server_default="trx"),
        sa.Column("window", sa.Integer, nullable=False, server_default="10"),
        sa.Column("throughput", sa.Float, nullable=False, server_default="0"),
        sa.Column("enquire_link_s", sa.Float, nullable=False, server_default="30"),
        sa.Column("id_mode", sa.String(16), nullable=False, server_default="as-is"),
        sa.Column("coding", sa.String(8), nullable=False, server_default="gsm"),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "routes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("prefix", sa.String(15), nullable=False),
        sa.Column("connectors", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "pending_receipts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("connector", sa.String(64), nullable=False),
        sa.Column("smsc_id", sa.String(64), nullable=False),
        sa.Column("state", sa.SmallInteger, nullable=False),
        sa.Column("stat", sa.String(16), nullable=False),
        sa.Column("err", sa.String(16), nullable=True),
        sa.Column("received_at", sa.Float, nullable=False),
    )
    op.create_index("pending_receipts_id", "pending_receipts", ["connector", "smsc_id"])
    op.add_column(
        "recipients", sa.Column("reclaims", sa.Integer, nullable=False, server_default="0")
    )


def downgrade() -> None:
    with op.batch_alter_table("recipients") as batch:
        batch.drop_column("reclaims")
    op.drop_table("pending_receipts")
    op.drop_table("routes")
    op.drop_table("connectors")
