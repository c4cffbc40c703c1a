"""The web console: sessions, one-time links (activation, password reset), operators,
and each account's contacts and contact groups.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("console_sessions_login", "console_sessions", ["role", "login"])
    op.create_index("console_sessions_expires", "console_sessions", ["expires_at"])
    op.create_table(
        "console_links",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("used_at", sa.Float, nullable=True),
    )
    op.create_index("console_links_expires", "console_links", ["expires_at"])
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("login", sa.String(64), nullable=False, unique=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "contacts",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("number", sa.String(15), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("account_id", "number", name="contacts_account_number"),
    )
    op.create_table(
        "contact_groups",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("account_id", "name", name="contact_groups_account_name"),
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", BIG_ID, sa.ForeignKey("contact_groups.id"), primary_key=True),
        sa.Column("contact_id", BIG_ID, sa.ForeignKey("contacts.id"), primary_key=True),
    )
    op.create_index("group_members_contact", "group_members", ["contact_id"])


def downgrade() -> None:
    op.drop_table("group_members")
    op.drop_table("contact_groups")
    op.drop_table("contacts")
    op.drop_table("operators")
    op.drop_table("console_links")
    op.drop_table("console_sessions")
