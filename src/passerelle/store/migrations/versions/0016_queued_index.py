"""The outbox's indexes hold only what is looked up: the claim's index only queued
recipients (``state = 0``), the receipts' index only recipients whose operator id is
set. A recipient then leaves the claim's index when it is submitted and never enters
the receipts' index before it is, so a delivered message writes fewer index entries on
each backend, and the claim scans an index as small as the queue.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

QUEUED = sa.text("state = 0")
HAS_ID = sa.text("smsc_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index("recipients_due", table_name="recipients")
    op.create_index(
        "recipients_queued",
        "recipients",
        ["next_attempt_at"],
        sqlite_where=QUEUED,
        postgresql_where=QUEUED,
    )
    op.drop_index("recipients_smsc_id", table_name="recipients")
    op.create_index(
        "recipients_smsc_id",
        "recipients",
        ["smsc_id"],
        sqlite_where=HAS_ID,
        postgresql_where=HAS_ID,
    )


def downgrade() -> None:
    op.drop_index("recipients_smsc_id", table_name="recipients")
    op.create_index("recipients_smsc_id", "recipients", ["smsc_id"])
    op.drop_index("recipients_queued", table_name="recipients")
    op.create_index("recipients_due", "recipients", ["state", "next_attempt_at"])
