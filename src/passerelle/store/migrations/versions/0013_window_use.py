"""Window use of each owned connector: submits awaiting their response (`in_use`) out
of the link's `window`, recorded by the owner with its lease at each refresh, so that
any process (the console) can show it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connector_owners") as batch:
        batch.add_column(sa.Column("in_use", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("window", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("connector_owners") as batch:
        batch.drop_column("window")
        batch.drop_column("in_use")
