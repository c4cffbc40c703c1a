"""Receipt deadline: an index of the recipients waiting for their receipt, by the time
they were submitted, so that the periodic expiry finds the overdue ones without reading
every recipient. Partial (``WHERE state = 1``, submitted): queued and final recipients,
the bulk of the table, are not in it, and accepting a message does not touch it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "recipients_awaiting_receipt",
        "recipients",
        ["submitted_at"],
        sqlite_where=sa.text("state = 1"),
        postgresql_where=sa.text("state = 1"),
    )


def downgrade() -> None:
    op.drop_index("recipients_awaiting_receipt", "recipients")
