"""Idempotency keys of the JSON API: per account and key, the request's digest, a lease
while the first request is sent, then its answer, and the generation of the row; and
on the message it sent, the key and that generation (unique per account), so that a
retry after a crash between the two finds the message, and a second owner of the same
reservation cannot store a second one.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("claimed_until", sa.Float, nullable=True),
        sa.Column("msgid", sa.BigInteger, nullable=True),
        sa.Column("error_code", sa.String(2), nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("generation", sa.String(16), nullable=False),
    )
    op.create_index("idempotency_keys_created", "idempotency_keys", ["created_at"])
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("idem_key", sa.String(272), nullable=True))
    op.create_index(
        "messages_idem_key",
        "messages",
        ["account_id", "idem_key"],
        unique=True,
        sqlite_where=sa.text("idem_key IS NOT NULL"),
        postgresql_where=sa.text("idem_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("messages_idem_key", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("idem_key")
    op.drop_table("idempotency_keys")
