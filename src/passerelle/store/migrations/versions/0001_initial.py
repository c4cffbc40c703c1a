"""Initial schema: accounts, messages, recipients, ledger.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("login", sa.String(64), nullable=False, unique=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("api_password_hash", sa.Text, nullable=False),
        sa.Column("console_password_hash", sa.Text, nullable=True),
        sa.Column("activated", sa.Boolean, nullable=False),
        sa.Column("gateway_enabled", sa.Boolean, nullable=False),
        sa.Column("suspended", sa.Boolean, nullable=False),
        sa.Column("credits", sa.BigInteger, nullable=False),
        sa.Column("rate_limit", sa.Float, nullable=True),
        sa.Column("callback_url", sa.Text, nullable=True),
        sa.Column("callback_method", sa.String(4), nullable=False),
        sa.Column("callback_secret", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.CheckConstraint("credits >= 0", name="credits_not_negative"),
    )
    op.create_table(
        "messages",
        sa.Column("msgid", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("sender", sa.String(15), nullable=False),
        sa.Column("sender_type", sa.SmallInteger, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("flash", sa.Boolean, nullable=False),
        sa.Column("callback", sa.Boolean, nullable=False),
        sa.Column("recipient_count", sa.Integer, nullable=False),
        sa.Column("cost", sa.Integer, nullable=False),
    )
    op.create_index("messages_account_created", "messages", ["account_id", "created_at"])
    op.create_table(
        "recipients",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("msgid", sa.BigInteger, sa.ForeignKey("messages.msgid"), nullable=False),
        sa.Column("dest", sa.String(15), nullable=False),
        sa.Column("state", sa.SmallInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("claimed_until", sa.Float, nullable=True),
        sa.Column("connector", sa.String(64), nullable=True),
        sa.Column("smsc_id", sa.String(64), nullable=True),
        sa.Column("submitted_at", sa.Float, nullable=True),
        sa.Column("final_at", sa.Float, nullable=True),
        sa.Column("stat", sa.String(16), nullable=True),
        sa.Column("err", sa.String(16), nullable=True),
        sa.UniqueConstraint("msgid", "dest", name="recipients_msgid_dest"),
    )
    op.create_index("recipients_due", "recipients", ["state", "next_attempt_at"])
    op.create_index("recipients_smsc_id", "recipients", ["smsc_id"])
    op.create_table(
        "ledger",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("delta", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("msgid", sa.BigInteger, nullable=True),
    )
    op.create_index("ledger_account", "ledger", ["account_id", "id"])


def downgrade() -> None:
    op.drop_table("ledger")
    op.drop_table("recipients")
    op.drop_table("messages")
    op.drop_table("accounts")
