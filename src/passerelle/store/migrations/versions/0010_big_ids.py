"""64-bit ids on PostgreSQL for the tables that grow with traffic (recipients, ledger,
pending receipts, callback events and attempts): a 32-bit sequence runs out after 2
billion rows, and retention deletes rows without giving their ids back. SQLite's
INTEGER PRIMARY KEY is already its 64-bit rowid: nothing to do there.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLES = ("recipients", "ledger", "pending_receipts", "callback_events", "callback_attempts")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN id TYPE bigint")
        op.execute(f"ALTER SEQUENCE {table}_id_seq AS bigint")
    op.execute("ALTER TABLE callback_attempts ALTER COLUMN event_id TYPE bigint")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE callback_attempts ALTER COLUMN event_id TYPE integer")
    for table in TABLES:
        op.execute(f"ALTER SEQUENCE {table}_id_seq AS integer")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN id TYPE integer")
