"""PostgreSQL retention (a mixin of `PgStore`; the SQLite twin is `sqlite_retention.py`)."""

from __future__ import annotations

from passerelle.store.postgres_base import PgRole


class PgRetention(PgRole):
    """The retention role of the PostgreSQL store."""
