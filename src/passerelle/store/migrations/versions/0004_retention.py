"""Retention: indexes that let the purge find old rows without scanning everything,
and callback event ids that are never reused (they are the receivers' `event_id`).
SQLite reuses the largest rowid once its row is deleted unless the table is declared
AUTOINCREMENT, which needs the table rebuilt (Alembic's batch mode copies the rows; the
copy also sets the sequence to the largest id already given out).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":  # PostgreSQL's sequences never reuse an id
        with op.batch_alter_table(
            "callback_events", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass
    op.create_index("callback_events_msgid", "callback_events", ["msgid"])
    op.create_index("pending_receipts_received", "pending_receipts", ["received_at"])


def downgrade() -> None:
    op.drop_index("pending_receipts_received", "pending_receipts")
    op.drop_index("callback_events_msgid", "callback_events")
