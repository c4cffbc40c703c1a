"""Connector ownership: which process binds each connector, on a lease kept on the
database's clock, so that several processes (or machines) never bind one connector
twice and a dead owner's connectors are taken over when its lease ends.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connector_owners",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("until", sa.Float, nullable=False),
        sa.Column("bound", sa.Boolean, nullable=False),
    )
    op.create_index("connector_owners_owner", "connector_owners", ["owner"])


def downgrade() -> None:
    op.drop_table("connector_owners")
